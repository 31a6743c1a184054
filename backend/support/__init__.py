"""Customer support: shipping reminders (催发货) and messages to customer service, with replies."""
