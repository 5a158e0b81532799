// Package pkgdoc holds only a test: every package of the repository must
// have a package doc whose first sentence says its job (STYLE.md §1).
package pkgdoc
