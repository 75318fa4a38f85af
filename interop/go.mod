module github.com/tokenrefresh/refresh/interop

go 1.26

replace github.com/tokenrefresh/refresh => ../
