"""Ship confirmation (发货回传) to each sales platform: pure build_/parse_ plus a thin client."""
