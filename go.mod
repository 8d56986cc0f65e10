module replfs

go 1.26

require 9fans.net/go v0.0.8-0.20250307142834-96bdba94b63f
