module github.com/tokenrefresh/refresh/bench

go 1.26.0

replace github.com/tokenrefresh/refresh => ../

require (
	github.com/tokenrefresh/refresh v0.0.0-00010101000000-000000000000
	golang.org/x/oauth2 v0.38.0
)
