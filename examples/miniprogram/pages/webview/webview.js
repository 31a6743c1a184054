// The tracking page, opened from the signed link the order list gave. The portal turns the
// link into its own customer cookie inside the web-view: the mini-program's bearer token
// never goes into the URL.
Page({
  data: { link: '' },

  onLoad(query) {
    this.setData({ link: decodeURIComponent(query.link || '') });
  },

  // e.detail.url: usually a domain missing from 业务域名.
  onError(e) {
    console.warn('web-view failed to load', e.detail && e.detail.url);
  },
});
