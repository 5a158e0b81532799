VALUE = "old"
