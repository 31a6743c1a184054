"""Payment gateway refund adapters (WeChat Pay APIv3, Alipay) behind one RefundGateway protocol."""
