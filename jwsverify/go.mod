module github.com/tokenrefresh/refresh/jwsverify

go 1.26.0

replace github.com/tokenrefresh/refresh => ../

require (
	github.com/go-jose/go-jose/v4 v4.1.9
	github.com/google/go-cmp v0.7.0
	github.com/tokenrefresh/refresh v0.1.0
)
