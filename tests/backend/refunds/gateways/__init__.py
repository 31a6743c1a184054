"""Tests of the payment gateway refund adapters."""
