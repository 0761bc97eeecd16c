# Stateful cache node: sticky, migrating ephemeral disk; a custom drain
# (migrate) policy; group restart policy overridden by one task.
job "session-cache" {
  datacenters = ["dc1"]

  migrate {
    max_parallel     = 1
    health_check     = "task_states"
    min_healthy_time = "20s"
    healthy_deadline = "8m"
  }

  group "memcached" {
    count = 3

    ephemeral_disk {
      size    = 1024
      sticky  = true
      migrate = true
    }

    migrate {
      max_parallel = 2
    }

    restart {
      attempts         = 4
      interval         = "10m"
      delay            = "25s"
      mode             = "delay"
      render_templates = true
    }

    network {
      port "memcache" {
        static = 11211
      }
    }

    task "memcached" {
      driver = "docker"

      config {
        image = "memcached:1.6-alpine"
        args  = ["-m", "900", "-p", "11211"]
        ports = ["memcache"]
      }

      resources {
        cpu    = 300
        memory = 1024
      }
    }

    task "warmer" {
      driver = "exec"

      # task-level restart overrides the group policy for this task only
      restart {
        attempts = 1
        delay    = "5s"
        mode     = "fail"
      }

      config {
        command = "/usr/local/bin/cache-warmer"
        args    = ["--target", "127.0.0.1:11211"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
