# Mistake: a single-line block may hold only one argument.
job "web" {
  datacenters = ["dc1"]

  group "web" {
    task "web" {
      driver = "docker"

      config {
        image = "nginx:1.25"
      }

      resources { cpu = 500 memory = 256 }
    }
  }
}
