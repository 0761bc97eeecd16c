# Placement spreading through constraints: never two allocations on one
# host, and at most two per rack (distinct_property with a limit).
job "kafka" {
  datacenters = ["dc1"]

  constraint {
    operator = "distinct_hosts"
    value    = "true"
  }

  group "broker" {
    count = 6

    constraint {
      operator  = "distinct_property"
      attribute = "${meta.rack}"
      value     = "2"
    }

    task "broker" {
      driver = "docker"

      config {
        image = "bitnami/kafka:3.6"
      }

      resources {
        cpu    = 2000
        memory = 4096
      }
    }
  }

  group "zookeeper" {
    count = 3

    # shorthand forms
    constraint {
      distinct_hosts = true
    }

    constraint {
      distinct_property = "${node.datacenter}"
    }

    task "zk" {
      driver = "docker"

      config {
        image = "zookeeper:3.9"
      }

      resources {
        cpu    = 500
        memory = 1024
      }
    }
  }
}
