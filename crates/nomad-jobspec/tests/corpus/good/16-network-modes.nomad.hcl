# Network block variations: bridge with DNS settings and a hostname,
# host networking bound to a named host network, CNI, and no network.
job "edge" {
  datacenters = ["edge-*"]

  group "proxy" {
    network {
      mode     = "bridge"
      hostname = "edge-proxy-${NOMAD_ALLOC_INDEX}"

      port "http" {
        static = 80
        to     = 8080
      }

      port "admin" {
        to           = 9901
        host_network = "loopback"
      }

      dns {
        servers  = ["10.0.0.2", "10.0.0.3"]
        searches = ["svc.internal", "internal"]
        options  = ["ndots:2", "timeout:1"]
      }
    }

    task "envoy" {
      driver = "docker"

      config {
        image = "envoyproxy/envoy:v1.29-latest"
        ports = ["http", "admin"]
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }

  group "bgp" {
    network {
      mode = "host"

      port "bgp" {
        static           = 179
        host_network     = "public"
        ignore_collision = true
      }
    }

    task "bird" {
      driver = "raw_exec"

      config {
        command = "/usr/sbin/bird"
        args    = ["-f", "-c", "local/bird.conf"]
      }
    }
  }

  group "tenant" {
    network {
      mode = "cni/tenant-a"

      port "app" {
        to = 5000
      }

      cni {
        args = {
          "IgnoreUnknown" = "true"
          "K8S_POD_NAME"  = "tenant-a"
        }
      }
    }

    task "app" {
      driver = "docker"

      config {
        image = "registry.example.com/tenant-app:1.0"
        ports = ["app"]
      }
    }
  }

  group "isolated" {
    network {
      mode = "none"
    }

    task "crunch" {
      driver = "exec"

      config {
        command = "/usr/local/bin/crunch"
      }
    }
  }
}
