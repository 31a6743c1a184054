"""Customer notifications: SMS (Aliyun) and WeChat subscribe messages behind small protocols."""
