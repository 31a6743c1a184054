// The order list: login, the verified phone once, GET /orders, web-view links, consents.
const app = getApp();

// What the portal's errors mean to the customer; anything else is "try again later".
const MESSAGES = {
  no_orders_for_phone: '这个手机号下还没有订单',
  phone_not_mainland_mobile: '请使用中国大陆手机号',
  code_invalid: '授权已过期，请重试',
  too_many_requests: '操作太频繁，请稍后再试',
};

Page({
  data: { customer: false, orders: [], error: '' },

  onLoad() {
    app.login().then(() => this.refresh(), () => this.setData({ error: '登录失败，请稍后再试' }));
  },

  onPullDownRefresh() {
    this.refresh().then(() => wx.stopPullDownRefresh());
  },

  refresh() {
    this.setData({ customer: app.globalData.customer });
    if (!app.globalData.customer) return Promise.resolve();
    return app.api('GET', '/orders').then(({ orders }) => {
      orders.forEach((order) => { order.total_yuan = (order.total_fen / 100).toFixed(2); });
      this.setData({ orders });
    }, (failure) => {
      // session_ended: the shop withdrew the link the session came through; log in again.
      if (failure.status === 401) return app.login().then(() => this.refresh());
      this.setData({ error: '加载失败，请下拉重试' });
    });
  },

  // The getPhoneNumber button: e.detail.code only when the user agreed.
  onPhone(e) {
    if (!e.detail.code) return; // refused: keep the button
    app.verifyPhone(e.detail.code).then(() => this.refresh(), (failure) => {
      this.setData({ error: MESSAGES[failure.error] || '请稍后再试' });
    });
  },

  // The signed link (/o/<signed>) opens the tracking page in the web-view. Never the token.
  openOrder(e) {
    const link = encodeURIComponent(e.currentTarget.dataset.link);
    wx.navigateTo({ url: '/pages/webview/webview?link=' + link });
  },

  // wx.requestSubscribeMessage, then the result as it came, to POST /consents.
  subscribe() {
    const tmplIds = Object.values(app.globalData.templates).slice(0, 5);
    if (tmplIds.length === 0) return;
    wx.requestSubscribeMessage({
      tmplIds,
      success: (result) => {
        // {TEMPLATE_ID: 'accept' | 'reject' | 'ban' | 'filter', errMsg: '...'}
        app.api('POST', '/consents', result).then(({ accepted }) => {
          if (accepted.length) wx.showToast({ title: '已开启通知' });
        });
      },
      // fail: errCode 20004 means the user switched notifications off in 设置.
    });
  },
});
