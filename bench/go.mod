module github.com/tokenrefresh/refresh/bench

go 1.26.0

replace github.com/tokenrefresh/refresh => ../

require (
	github.com/tokenrefresh/refresh v0.1.0
	golang.org/x/oauth2 v0.38.0
)
