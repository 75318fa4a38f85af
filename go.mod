module github.com/tokenrefresh/refresh

go 1.26

require (
	github.com/google/go-cmp v0.7.0
	github.com/jarcoal/httpmock v1.4.2
)
