# args: -var replica=5
# Mistake: -var names a variable the job does not declare (it declares "replicas").
variable "replicas" {
  type    = number
  default = 1
}

job "web" {
  datacenters = ["dc1"]

  group "web" {
    count = var.replicas

    task "app" {
      driver = "docker"

      config {
        image = "registry.example.com/app:1.0.0"
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
