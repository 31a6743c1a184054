// The portal's mini-program API (portal/routes/miniprogram.py), as the mini-program calls it.
// Documentation only: not built or run in CI. PORTAL is the merchant's portal, which must be
// a 服务器域名 (request legal domain) and a 业务域名 (web-view domain) of this mini-program.
const PORTAL = 'https://track.example.com';

App({
  globalData: { token: null, customer: false, templates: {} },

  // Every API call: JSON, the bearer token when we have one, the portal's error as a reject.
  api(method, path, data) {
    return new Promise((resolve, reject) => {
      const header = { 'content-type': 'application/json' };
      if (this.globalData.token) header.authorization = 'Bearer ' + this.globalData.token;
      wx.request({
        url: PORTAL + '/api/miniprogram' + path,
        method,
        data,
        header,
        success: (res) => {
          if (res.statusCode === 200) return resolve(res.data);
          const error = (res.data && res.data.error) || 'http_' + res.statusCode;
          if (res.statusCode === 401) this.globalData.token = null; // log in again
          reject({ status: res.statusCode, error });
        },
        fail: () => reject({ status: 0, error: 'network' }),
      });
    });
  },

  // wx.login -> POST /login {code} -> our own token. WeChat's session_key stays on the server.
  login() {
    return new Promise((resolve, reject) => {
      wx.login({
        success: ({ code }) => this.api('POST', '/login', { code }).then((session) => {
          this.remember(session);
          resolve(session);
        }, reject),
        fail: () => reject({ status: 0, error: 'wx_login_failed' }),
      });
    });
  },

  // The getPhoneNumber button's code -> POST /phone {code} -> a token that names the customer.
  verifyPhone(code) {
    return this.api('POST', '/phone', { code }).then((session) => {
      this.remember(session);
      return session;
    });
  },

  // Or the lookup form's order number and last four digits: this session only.
  lookup(orderNo, phoneLast4) {
    return this.api('POST', '/lookup', { order_no: orderNo, phone_last4: phoneLast4 })
      .then((session) => {
        this.remember(session);
        return session;
      });
  },

  remember(session) {
    this.globalData.token = session.token;
    this.globalData.customer = session.customer;
    this.globalData.templates = session.templates; // {event: template_id}
  },
});
