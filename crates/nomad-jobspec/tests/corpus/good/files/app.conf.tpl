listen {{ env "NOMAD_PORT_http" }}
port = ${port}
