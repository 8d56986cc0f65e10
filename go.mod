module replfs

go 1.26
