# Mistake: a misspelled argument name; a close match exists.
job "web" {
  datacenters = ["dc1"]

  group "web" {
    cuont = 2

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
