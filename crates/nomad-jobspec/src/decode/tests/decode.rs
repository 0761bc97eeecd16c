//! Representative decodes: `nomad job init`'s example and a job with every block.

use serde_json::json;

use super::job;

const JOB_INIT: &str = r#"
job "example" {
  datacenters = ["*"]
  type        = "service"

  update {
    max_parallel      = 1
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = false
    canary            = 0
  }

  migrate {
    max_parallel     = 1
    health_check     = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "5m"
  }

  group "cache" {
    count = 1

    network {
      port "db" {
        to = 6379
      }
    }

    service {
      name     = "redis-cache"
      tags     = ["global", "cache"]
      port     = "db"
      provider = "nomad"
    }

    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    ephemeral_disk {
      size = 300
    }

    task "redis" {
      driver = "docker"

      config {
        image          = "redis:7"
        ports          = ["db"]
        auth_soft_fail = true
      }

      identity {
        env  = true
        file = true
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
"#;

#[test]
fn job_init_example() {
    let j = job(JOB_INIT);
    let expected = json!({
        "ID": "example",
        "Name": "example",
        "Type": "service",
        "Datacenters": ["*"],
        "TaskGroups": [{
            "Name": "cache",
            "Count": 1,
            "Tasks": [{
                "Name": "redis",
                "Driver": "docker",
                "Config": {"auth_soft_fail": true, "image": "redis:7", "ports": ["db"]},
                "Resources": {"CPU": 500, "MemoryMB": 256},
                "Identity": {"Env": true, "File": true}
            }],
            "RestartPolicy": {"Interval": 1_800_000_000_000_i64, "Attempts": 2, "Delay": 15_000_000_000_i64, "Mode": "fail"},
            "EphemeralDisk": {"SizeMB": 300},
            "Networks": [{"DynamicPorts": [{"Label": "db", "To": 6379}]}],
            "Services": [{"Name": "redis-cache", "Tags": ["global", "cache"], "PortLabel": "db", "Provider": "nomad"}]
        }],
        "Update": {
            "MaxParallel": 1,
            "MinHealthyTime": 10_000_000_000_i64,
            "HealthyDeadline": 180_000_000_000_i64,
            "ProgressDeadline": 600_000_000_000_i64,
            "Canary": 0,
            "AutoRevert": false
        },
        "Migrate": {
            "MaxParallel": 1,
            "HealthCheck": "checks",
            "MinHealthyTime": 10_000_000_000_i64,
            "HealthyDeadline": 300_000_000_000_i64
        }
    });
    assert_eq!(j, expected);
    // Keys come out in the API struct's order.
    let keys: Vec<&String> = j
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "ID",
            "Name",
            "Type",
            "Datacenters",
            "TaskGroups",
            "Update",
            "Migrate"
        ]
    );
}

const EVERY_BLOCK: &str = r#"
job "everything" {
  region      = "eu"
  namespace   = "prod"
  type        = "batch"
  priority    = 70
  all_at_once = true
  datacenters = ["dc1", "dc2"]
  node_pool   = "gpu"
  meta        = { "owner.team" = "core", n = 1 }

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  constraint {
    distinct_hosts = true
  }
  constraint {
    attribute = "${meta.rack}"
    regexp    = "r[0-9]"
  }
  affinity {
    attribute = "${node.datacenter}"
    value     = "dc1"
    weight    = -50
  }
  spread {
    attribute = "${node.datacenter}"
    weight    = 100
    target "dc1" {
      percent = 60
    }
  }
  periodic {
    crons            = ["*/5 * * * *"]
    prohibit_overlap = true
    time_zone        = "UTC"
  }
  parameterized {
    payload       = "required"
    meta_required = ["input"]
  }
  reschedule {
    attempts       = 3
    interval       = "1h"
    delay          = "30s"
    delay_function = "exponential"
    max_delay      = "10m"
    unlimited      = false
  }
  vault {
    role = "job-role"
  }
  secret "shared" {
    provider = "nomad"
    path     = "shared/creds"
  }

  task "solo" {
    driver = "raw_exec"
    config {
      command = "/bin/true"
    }
  }

  group "g" {
    count          = 2
    shutdown_delay = "5s"

    volume "data" {
      type      = "csi"
      source    = "data-vol"
      read_only = true
      mount_options {
        fs_type     = "ext4"
        mount_flags = ["noatime"]
      }
    }
    network {
      mode     = "bridge"
      hostname = "h"
      port "http" {
        static = 8080
        to     = 80
      }
      port "admin" {}
      dns {
        servers = ["1.1.1.1"]
      }
    }
    disconnect {
      lost_after = "6h"
      replace    = true
      reconcile  = "best_score"
    }
    scaling {
      min = 1
      max = 5
      policy {
        cooldown = "1m"
        check "cpu" {
          source = "prometheus"
        }
      }
    }
    service {
      name = "web"
      port = "http"
      tags = ["a"]
      meta {
        version = 2
      }
      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
        header {
          Authorization = ["Bearer x"]
        }
      }
    }

    task "t" {
      driver         = "docker"
      user           = "nobody"
      kill_timeout   = "20s"
      kill_signal    = "SIGINT"
      leader         = true
      env            = { PORT = 8080, DEBUG = true }
      meta {
        tier = "web"
      }
      config {
        image  = "nginx"
        labels = { a = "b" }
        mount {
          type   = "bind"
          target = "/x"
        }
      }
      lifecycle {
        hook    = "prestart"
        sidecar = false
      }
      resources {
        cpu        = 100
        memory     = 128
        memory_max = 256
        device "nvidia/gpu" {
          count = 1
          affinity {
            attribute = "${device.attr.memory}"
            operator  = ">="
            value     = "4 GiB"
            weight    = 75
          }
        }
      }
      logs {
        max_files     = 3
        max_file_size = 5
      }
      artifact {
        source      = "https://example.com/app.tgz"
        destination = "local/app"
        options {
          checksum = "sha256:abc"
        }
      }
      template {
        data        = "x={{ env \"NOMAD_ALLOC_ID\" }}"
        destination = "local/x.env"
        env         = true
        change_mode = "script"
        change_script {
          command       = "/bin/reload"
          fail_on_error = true
        }
        wait {
          min = "1s"
          max = "5s"
        }
      }
      volume_mount {
        volume      = "data"
        destination = "/data"
      }
      dispatch_payload {
        file = "input.json"
      }
      identity {
        name = "vault"
        aud  = ["vault.io"]
        ttl  = "1h"
      }
      identity {
        env = true
      }
      action "hello" {
        command = "/bin/echo"
        args    = ["hi"]
      }
      scaling "cpu" {
        max = 500
      }
      restart {
        attempts = 1
        mode     = "delay"
      }
    }
  }
}
"#;

#[test]
fn job_with_every_block() {
    let j = job(EVERY_BLOCK);
    assert_eq!(j["ID"], "everything");
    assert_eq!(j["Name"], "everything");
    assert_eq!(j["Region"], "eu");
    assert_eq!(j["Priority"], 70);
    assert_eq!(j["NodePool"], "gpu");
    assert_eq!(j["Meta"], json!({"n": "1", "owner.team": "core"}));
    assert_eq!(
        j["Constraints"],
        json!([
            {"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="},
            {"LTarget": "", "RTarget": "true", "Operand": "distinct_hosts"},
            {"LTarget": "${meta.rack}", "RTarget": "r[0-9]", "Operand": "regexp"}
        ])
    );
    assert_eq!(
        j["Affinities"],
        json!([{"LTarget": "${node.datacenter}", "RTarget": "dc1", "Operand": "=", "Weight": -50}])
    );
    assert_eq!(
        j["Spreads"],
        json!([{"Attribute": "${node.datacenter}", "Weight": 100, "SpreadTarget": [{"Value": "dc1", "Percent": 60}]}])
    );
    assert_eq!(
        j["Periodic"],
        json!({"Specs": ["*/5 * * * *"], "SpecType": "cron", "ProhibitOverlap": true, "TimeZone": "UTC"})
    );
    assert_eq!(
        j["ParameterizedJob"],
        json!({"Payload": "required", "MetaRequired": ["input"]})
    );
    assert_eq!(j["Reschedule"]["MaxDelay"], 600_000_000_000_i64);

    // The top-level task became the first group.
    let groups = j["TaskGroups"].as_array().cloned().unwrap_or_default();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["Name"], "solo");
    assert_eq!(
        groups[0]["Tasks"][0]["Config"],
        json!({"command": "/bin/true"})
    );
    // Job-level vault and secrets reach every task (vault with Nomad's defaults).
    let vault =
        json!({"Role": "job-role", "Env": true, "DisableFile": false, "ChangeMode": "restart"});
    assert_eq!(groups[0]["Tasks"][0]["Vault"], vault);
    assert_eq!(
        groups[1]["Tasks"][0]["Secrets"],
        json!([{"Name": "shared", "Provider": "nomad", "Path": "shared/creds"}])
    );

    let g = &groups[1];
    assert_eq!(g["Count"], 2);
    assert_eq!(g["ShutdownDelay"], 5_000_000_000_i64);
    assert_eq!(
        g["Volumes"],
        json!({"data": {"Name": "data", "Type": "csi", "Source": "data-vol", "ReadOnly": true, "MountOptions": {"FSType": "ext4", "MountFlags": ["noatime"]}}})
    );
    assert_eq!(
        g["Networks"],
        json!([{
            "Mode": "bridge",
            "DNS": {"Servers": ["1.1.1.1"]},
            "ReservedPorts": [{"Label": "http", "Value": 8080, "To": 80}],
            "DynamicPorts": [{"Label": "admin"}],
            "Hostname": "h"
        }])
    );
    assert_eq!(
        g["Disconnect"],
        json!({"LostAfter": 21_600_000_000_000_i64, "Replace": true, "Reconcile": "best_score"})
    );
    assert_eq!(
        g["Scaling"],
        json!({"Min": 1, "Max": 5, "Policy": {"check": [{"cpu": [{"source": "prometheus"}]}], "cooldown": "1m"}, "Type": "horizontal"})
    );
    assert_eq!(
        g["Services"],
        json!([{
            "Name": "web", "Tags": ["a"], "PortLabel": "http",
            "Checks": [{"Type": "http", "Path": "/health", "Interval": 10_000_000_000_i64, "Timeout": 2_000_000_000_i64, "Header": {"Authorization": ["Bearer x"]}}],
            "Meta": {"version": "2"}
        }])
    );

    let t = &g["Tasks"][0];
    assert_eq!(t["User"], "nobody");
    assert_eq!(t["KillTimeout"], 20_000_000_000_i64);
    assert_eq!(t["KillSignal"], "SIGINT");
    assert_eq!(t["Leader"], true);
    assert_eq!(t["Env"], json!({"DEBUG": "true", "PORT": "8080"}));
    assert_eq!(t["Meta"], json!({"tier": "web"}));
    assert_eq!(
        t["Config"],
        json!({"image": "nginx", "labels": [{"a": "b"}], "mount": [{"target": "/x", "type": "bind"}]})
    );
    assert_eq!(
        t["Lifecycle"],
        json!({"Hook": "prestart", "Sidecar": false})
    );
    assert_eq!(
        t["Resources"],
        json!({"CPU": 100, "MemoryMB": 128, "MemoryMaxMB": 256, "Devices": [{
            "Name": "nvidia/gpu", "Count": 1,
            "Affinities": [{"LTarget": "${device.attr.memory}", "RTarget": "4 GiB", "Operand": ">=", "Weight": 75}]
        }]})
    );
    assert_eq!(t["LogConfig"], json!({"MaxFiles": 3, "MaxFileSizeMB": 5}));
    assert_eq!(
        t["Artifacts"],
        json!([{"GetterSource": "https://example.com/app.tgz", "GetterOptions": {"checksum": "sha256:abc"}, "RelativeDest": "local/app"}])
    );
    assert_eq!(
        t["Templates"],
        json!([{
            "DestPath": "local/x.env",
            "EmbeddedTmpl": "x={{ env \"NOMAD_ALLOC_ID\" }}",
            "ChangeMode": "script",
            "ChangeScript": {"Command": "/bin/reload", "Args": [], "Timeout": 5_000_000_000_i64, "FailOnError": true, "RunOnFirstRender": false},
            "Splay": 5_000_000_000_i64,
            "Perms": "0644",
            "Envvars": true,
            "Wait": {"Min": 1_000_000_000, "Max": 5_000_000_000_i64},
            "ErrMissingKey": false
        }])
    );
    assert_eq!(
        t["VolumeMounts"],
        json!([{"Volume": "data", "Destination": "/data"}])
    );
    assert_eq!(t["DispatchPayload"], json!({"File": "input.json"}));
    assert_eq!(t["Identity"], json!({"Env": true}));
    assert_eq!(
        t["Identities"],
        json!([{"Name": "vault", "Audience": ["vault.io"], "TTL": 3_600_000_000_000_i64}])
    );
    assert_eq!(
        t["Actions"],
        json!([{"Name": "hello", "Command": "/bin/echo", "Args": ["hi"]}])
    );
    assert_eq!(
        t["ScalingPolicies"],
        json!([{"Max": 500, "Type": "vertical_cpu"}])
    );
    assert_eq!(t["RestartPolicy"], json!({"Attempts": 1, "Mode": "delay"}));
    assert_eq!(t["Vault"], vault);
}

#[test]
fn variables_and_dynamic_blocks_feed_the_decoder() {
    let j = job(r#"
variable "ports" {
  default = { http = 8080, grpc = 0 }
}
locals {
  image = "app:${var.ports.http}"
}
job "dyn" {
  group "g" {
    network {
      dynamic "port" {
        for_each = var.ports
        labels   = [port.key]
        content {
          static = port.value
        }
      }
    }
    task "t" {
      driver = "docker"
      config {
        image = local.image
        args  = ["--alloc", "${NOMAD_ALLOC_ID}", "--dc=${node.datacenter}"]
      }
    }
  }
}
"#);
    let g = &j["TaskGroups"][0];
    assert_eq!(
        g["Networks"][0]["ReservedPorts"],
        json!([{"Label": "http", "Value": 8080}])
    );
    assert_eq!(
        g["Networks"][0]["DynamicPorts"],
        json!([{"Label": "grpc", "Value": 0}])
    );
    assert_eq!(g["Tasks"][0]["Config"]["image"], "app:8080");
    assert_eq!(
        g["Tasks"][0]["Config"]["args"],
        json!(["--alloc", "${NOMAD_ALLOC_ID}", "--dc=${node.datacenter}"])
    );
}

#[test]
fn positions_are_recorded_for_every_field() {
    let body = nomad_hcl::evaluate(
        &super::in_task("      kill_timeout = \"5s\""),
        &super::opts(),
    )
    .expect("eval");
    let (_, spans) = crate::decode_job_spanned(&body).expect("decode");
    let at = |p: &str| spans.get(p).map(|s| (s.start.line, s.start.col));
    assert_eq!(at("/TaskGroups/0"), Some((2, 3)));
    assert_eq!(at("/TaskGroups/0/Tasks/0"), Some((3, 5)));
    assert_eq!(at("/TaskGroups/0/Tasks/0/Driver"), Some((4, 7)));
    assert_eq!(at("/TaskGroups/0/Tasks/0/KillTimeout"), Some((5, 7)));
}
