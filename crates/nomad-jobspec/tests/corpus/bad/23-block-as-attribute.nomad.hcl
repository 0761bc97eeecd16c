# Mistake: update is a block, not an argument taking an object.
job "web" {
  datacenters = ["dc1"]

  update = {
    max_parallel = 2
    canary       = 1
  }

  group "web" {

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
