# Regexp, set, version, semver and presence constraints, in both the
# explicit `operator` form and the shorthand attribute form.
job "search-indexer" {
  datacenters = ["dc1", "dc2"]

  group "indexer" {
    constraint {
      attribute = "${node.unique.name}"
      operator  = "regexp"
      value     = "^search-[0-9]+$"
    }

    # shorthand: regexp = "<expr>"
    constraint {
      attribute = "${attr.os.name}"
      regexp    = "(ubuntu|debian)"
    }

    constraint {
      attribute = "${meta.features}"
      operator  = "set_contains"
      value     = "ssd"
    }

    constraint {
      attribute = "${meta.features}"
      operator  = "set_contains_all"
      value     = "ssd,avx2"
    }

    constraint {
      attribute = "${meta.zones}"
      operator  = "set_contains_any"
      value     = "a,b,c"
    }

    # shorthand: set_contains = "<list>"
    constraint {
      attribute    = "${meta.labels}"
      set_contains = "search"
    }

    constraint {
      attribute = "${attr.nomad.version}"
      operator  = "version"
      value     = ">= 1.6.0, < 3.0.0"
    }

    # shorthand: version = "<constraint>"
    constraint {
      attribute = "${attr.kernel.version}"
      version   = "~> 6.1"
    }

    constraint {
      attribute = "${attr.driver.docker.version}"
      operator  = "semver"
      value     = ">= 24.0.0"
    }

    # shorthand: semver = "<constraint>"
    constraint {
      attribute = "${attr.os.version}"
      semver    = ">= 20.4.0, < 26.0.0"
    }

    constraint {
      attribute = "${attr.unique.storage.volume}"
      operator  = "is_set"
    }

    constraint {
      attribute = "${meta.decommissioned}"
      operator  = "is_not_set"
    }

    task "indexer" {
      driver = "exec"

      config {
        command = "/usr/local/bin/indexer"
        args    = ["--shard", "${NOMAD_ALLOC_INDEX}"]
      }

      resources {
        cpu    = 1000
        memory = 1536
      }
    }
  }
}
