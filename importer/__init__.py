"""The master-data import (IMPORT.md): parse, check and upsert one JSON document in one transaction."""
