module github.com/tokenrefresh/refresh/oauth2adapter

go 1.26.0

require (
	github.com/google/go-cmp v0.7.0
	github.com/tokenrefresh/refresh v0.1.0
	golang.org/x/oauth2 v0.38.0
)

replace github.com/tokenrefresh/refresh => ../
