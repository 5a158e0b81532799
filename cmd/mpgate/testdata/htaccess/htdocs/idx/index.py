static idx/index.py
