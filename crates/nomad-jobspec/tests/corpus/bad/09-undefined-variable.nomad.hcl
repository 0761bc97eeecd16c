# Mistake: a reference to a variable that was never declared.
variable "image_tag" {
  type    = string
  default = "1.4.2"
}

job "web" {
  datacenters = ["dc1"]

  group "web" {
    task "web" {
      driver = "docker"

      config {
        image = var.image_version
      }
    }
  }
}
