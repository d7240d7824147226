# shellcheck shell=bash
# free_port: prints a TCP port on 127.0.0.1 that is free right now (the OS picks
# it), for the services and servers the scripts start. Needs a python3 on PATH,
# or in $1 (the S3 service passes its venv's interpreter).
free_port() {
  "${1:-python3}" -c 'import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])'
}
