module github.com/palvelumanuaali/useradmin

go 1.26.8
