# Mistake: trimspace() takes exactly one argument (a cutset belongs to trim()).
variable "name" {
  type    = string
  default = " web "
}

job "web" {
  datacenters = ["dc1"]

  group "web" {
    task "web" {
      driver = "docker"

      config {
        image = "nginx:1.25"
      }

      env {
        APP_NAME = trimspace(var.name, " ")
      }
    }
  }
}
