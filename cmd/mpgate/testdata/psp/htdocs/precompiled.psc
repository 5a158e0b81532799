not marshal data
