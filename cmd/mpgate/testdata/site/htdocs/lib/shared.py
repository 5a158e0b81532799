GREETING = "from lib via PythonPath"
