# One group per reschedule flavour. A job-level reschedule block is the
# default for groups that do not declare their own.
job "queue-consumers" {
  datacenters = ["dc1"]

  reschedule {
    delay          = "30s"
    delay_function = "exponential"
    max_delay      = "1h"
    unlimited      = true
  }

  # inherits the job-level policy
  group "orders" {
    task "consume" {
      driver = "exec"

      config {
        command = "/opt/consumers/bin/orders"
      }
    }
  }

  group "emails" {
    reschedule {
      attempts       = 5
      interval       = "1h"
      delay          = "10s"
      delay_function = "constant"
      unlimited      = false
    }

    task "consume" {
      driver = "exec"

      config {
        command = "/opt/consumers/bin/emails"
      }
    }
  }

  group "invoices" {
    reschedule {
      attempts       = 4
      interval       = "2h"
      delay          = "20s"
      delay_function = "exponential"
      max_delay      = "10m"
      unlimited      = false
    }

    task "consume" {
      driver = "exec"

      config {
        command = "/opt/consumers/bin/invoices"
      }
    }
  }

  group "webhooks" {
    reschedule {
      attempts       = 6
      interval       = "72h"
      delay          = "15s"
      delay_function = "fibonacci"
      max_delay      = "1h30m"
      unlimited      = false
    }

    task "consume" {
      driver = "exec"

      config {
        command = "/opt/consumers/bin/webhooks"
      }
    }
  }

  group "audit" {
    # never reschedule
    reschedule {
      attempts  = 0
      unlimited = false
    }

    task "consume" {
      driver = "exec"

      config {
        command = "/opt/consumers/bin/audit"
      }
    }
  }
}
