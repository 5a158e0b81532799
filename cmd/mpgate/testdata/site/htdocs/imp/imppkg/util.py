VALUE = "util"
