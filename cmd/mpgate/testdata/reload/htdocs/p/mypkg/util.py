VALUE = "u1"
