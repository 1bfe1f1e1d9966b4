module goreactor.dev/guests

go 1.27
