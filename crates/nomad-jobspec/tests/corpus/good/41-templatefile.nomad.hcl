# templatefile() renders an HCL template file relative to the job file.
# Nomad's jobspec does not have it (Terraform does); we accept it as an
# extension because teams that keep config beside their jobs ask for it.
variable "port" {
  type    = number
  default = 8080
}

job "templated" {
  group "web" {
    task "nginx" {
      driver = "docker"

      config {
        image = "nginx:1.25"
      }

      template {
        destination = "local/app.conf"
        data        = templatefile("files/app.conf.tpl", { port = var.port })
      }
    }
  }
}
