// This file produces the error responses Apache itself would send when a
// handler returns an HTTP status (mod_python.md §2.5): the status line and
// the canned HTML body of httpd's ap_send_error_response
// (modules/http/http_protocol.c, get_canned_error_string), with the server
// signature Apache passes in the SERVER_SIGNATURE parameter.

package dispatch

import (
	"html"
	"strconv"
	"strings"
)

// apacheReasons holds httpd 2.4's status lines (http_protocol.c status_lines)
// where they differ from, or are missing in, net/http's.
var apacheReasons = map[int]string{
	100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
	200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
	204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
	208: "Already Reported", 226: "IM Used",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
	304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
	407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
	411: "Length Required", 412: "Precondition Failed", 413: "Request Entity Too Large",
	414: "Request-URI Too Long", 415: "Unsupported Media Type",
	416: "Requested Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a teapot",
	421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked",
	424: "Failed Dependency", 425: "Too Early", 426: "Upgrade Required",
	428: "Precondition Required", 429: "Too Many Requests",
	431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
	506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
	510: "Not Extended", 511: "Network Authentication Required",
}

// reasonPhrase returns Apache's reason phrase for a status, or "" when
// Apache has none (it then sends the number alone).
func reasonPhrase(status int) string { return apacheReasons[status] }

// errorRequest is what an error page mentions of the request.
type errorRequest struct {
	Method      string
	Location    string // Location header, for 3xx
	ServerAdmin string // SERVER_ADMIN
	Signature   string // SERVER_SIGNATURE ("" when ServerSignature Off)
	Expect      string // Expect request header, for 417
}

// docTypeHTML opens httpd 2.4's error documents (DOCTYPE_HTML_4_01 since
// 2.4.64; older releases sent HTML 2.0).
const docTypeHTML = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">`

// errorBody returns the HTML body Apache sends for status.
func errorBody(status int, r *errorRequest) string {
	reason := reasonPhrase(status)
	title := strconv.Itoa(status)
	if reason != "" {
		title += " " + reason
	}
	var b strings.Builder
	b.WriteString(docTypeHTML)
	b.WriteString("\n<html><head>\n<title>")
	b.WriteString(title)
	b.WriteString("</title>\n</head><body>\n<h1>")
	if reason != "" {
		b.WriteString(reason)
	} else {
		b.WriteString(title)
	}
	b.WriteString("</h1>\n")
	b.WriteString(cannedError(status, r))
	if r.Signature != "" {
		b.WriteString("<hr>\n")
		b.WriteString(r.Signature)
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

// cannedError mirrors httpd 2.4's get_canned_error_string.
func cannedError(status int, r *errorRequest) string {
	method := html.EscapeString(r.Method)
	loc := html.EscapeString(r.Location)
	switch status {
	case 301, 302, 307, 308:
		return "<p>The document has moved <a href=\"" + loc + "\">here</a>.</p>\n"
	case 303:
		return "<p>The answer to your request is located <a href=\"" + loc + "\">here</a>.</p>\n"
	case 305:
		return "<p>This resource is only accessible through the proxy\n" + loc +
			"<br />\nYou will need to configure your client to use that proxy.</p>\n"
	case 401, 407:
		return "<p>This server could not verify that you\nare authorized to access the document\n" +
			"requested.  Either you supplied the wrong\ncredentials (e.g., bad password), or your\n" +
			"browser doesn't understand how to supply\nthe credentials required.</p>\n"
	case 400:
		return "<p>Your browser sent a request that this server could not understand.<br />\n</p>\n"
	case 403:
		return "<p>You don't have permission to access this resource.</p>\n"
	case 404:
		return "<p>The requested URL was not found on this server.</p>\n"
	case 405:
		return "<p>The requested method " + method + " is not allowed for this URL.</p>\n"
	case 406:
		return "<p>An appropriate representation of the requested resource could not be found on this server.</p>\n"
	case 300:
		return ""
	case 411:
		return "<p>A request of the requested method " + method + " requires a valid Content-length.<br />\n</p>\n"
	case 412:
		return "<p>The precondition on the request for this URL evaluated to false.</p>\n"
	case 501:
		return "<p>" + method + " not supported for current URL.<br />\n</p>\n"
	case 502:
		return "<p>The proxy server received an invalid\nresponse from an upstream server.<br />\n</p>\n"
	case 506:
		return "<p>A variant for the requested resource\n<pre>\n\n</pre>\nis itself a negotiable resource. This indicates a configuration error.</p>\n"
	case 408:
		return "<p>Server timeout waiting for the HTTP request from the client.</p>\n"
	case 410:
		return "<p>The requested resource is no longer available on this server and there is no forwarding address.\n" +
			"Please remove all references to this resource.</p>\n"
	case 413:
		return "The requested resource does not allow request data with " + method +
			" requests, or the amount of data provided in\nthe request exceeds the capacity limit.\n"
	case 414:
		return "<p>The requested URL's length exceeds the capacity\nlimit for this server.<br />\n</p>\n"
	case 415:
		return "<p>The supplied request data is not in a format\nacceptable for processing by this resource.</p>\n"
	case 416:
		return "<p>None of the range-specifier values in the Range\nrequest-header field overlap the current extent\nof the selected resource.</p>\n"
	case 417:
		return "<p>The expectation given in the Expect request-header\nfield could not be met by this server.\n" +
			"The client sent<pre>\n    Expect: " + html.EscapeString(r.Expect) + "\n</pre>\n"
	case 422:
		return "<p>The server understands the media type of the\nrequest entity, but was unable to process the\ncontained instructions.</p>\n"
	case 423:
		return "<p>The requested resource is currently locked.\nThe lock must be released or proper identification\ngiven before the method can be applied.</p>\n"
	case 424:
		return "<p>The method could not be performed on the resource\nbecause the requested action depended on another\naction and that other action failed.</p>\n"
	case 426:
		return "<p>The requested resource can only be retrieved\nusing SSL.  The server is willing to upgrade the current\n" +
			"connection to SSL, but your client doesn't support it.\nEither upgrade your client, or try requesting the page\nusing https://\n"
	case 507:
		return "<p>The method could not be performed on the resource\nbecause the server is unable to store the\n" +
			"representation needed to successfully complete the\nrequest.  There is insufficient free space left in\nyour storage allocation.</p>\n"
	case 503:
		return "<p>The server is temporarily unable to service your\nrequest due to maintenance downtime or capacity\nproblems. Please try again later.</p>\n"
	case 504:
		return "<p>The gateway did not receive a timely response\nfrom the upstream server or application.</p>\n"
	case 510:
		return "<p>A mandatory extension policy in the request is not\naccepted by the server for this resource.</p>\n"
	case 429:
		return "<p>The user has sent too many requests\nin a given amount of time.</p>\n"
	case 431:
		return "<p>The server refused this request because\nthe request header fields are too large.</p>\n"
	}
	return "<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\nyour request.</p>\n" +
		"<p>Please contact the server administrator at \n " + html.EscapeString(r.ServerAdmin) +
		" to inform them of the time this error occurred,\n and the actions you performed just before this error.</p>\n" +
		"<p>More information about this error may be available\nin the server error log.</p>\n"
}
