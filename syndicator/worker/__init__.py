"""The long-running worker: scheduled and watched scans (and, later, delivery and HTTP)."""
