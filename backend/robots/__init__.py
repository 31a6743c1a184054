"""Group robots (WeCom 群机器人, DingTalk 自定义机器人): where staff hear about trouble."""
