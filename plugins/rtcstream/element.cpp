// SPDX-License-Identifier: LGPL-2.1-or-later
#include "element.h"

#include <gst/webrtc/webrtc.h>

#include "rtcstream/session.h"

namespace rtcstream {

namespace {

struct ChannelCtx {
  ElementCore *core;
  std::string session;
};

// webrtcbin's thread: a channel the remote side opened.
void
on_remote_data_channel (GstElement *, GstWebRTCDataChannel *ch, gpointer data)
{
  auto *c = static_cast<ChannelCtx *> (data);
  if (c->core->claim_channel && c->core->claim_channel (ch))
    return;
  c->core->channels->adopt (c->session, ch);
}

}  // namespace

void
ElementCore::init (const char *name, DataChannels::Handlers handlers)
{
  init_common_settings (settings);
  worker = std::make_shared<Worker> (name);
  channels = std::make_unique<DataChannels> (worker, std::move (handlers));
}

void
ElementCore::finalize ()
{
  worker.reset ();
  channels.reset ();
}

CommonSettings
ElementCore::copy_settings ()
{
  std::lock_guard<std::mutex> lk (lock);
  return settings;
}

void
ElementCore::start (GstElement *element, Ref<RtcstreamSignaller> sig,
    std::function<void ()> on_start, std::function<void ()> refresh_stats,
    std::initializer_list<Handler> handlers)
{
  // The DTLS certificate is made while the signaller connects.
  WebrtcSession::prepare ();
  Ref<GstElement> ref = Ref<GstElement>::take_ref (element);
  worker->run_sync ([this, ref, &sig, &on_start, &refresh_stats] {
    signaller = std::move (sig);
    started = true;
    on_start ();
    schedule_stats (ref, ++stats_generation, refresh_stats);
  });
  for (const Handler &h : handlers)
    handler_ids_.push_back (g_signal_connect (signaller.get (), h.signal, h.callback, element));
  rtcstream_signaller_start (signaller.get ());
}

// Worker thread: refresh_stats in a second, and every second after while
// the element is started with this generation (a restart makes another).
// The ref keeps the element, and so this core, alive until the timer fires.
void
ElementCore::schedule_stats (Ref<GstElement> element, guint generation,
    std::function<void ()> refresh_stats)
{
  worker->post_delayed (1000, [this, element, generation, refresh_stats] {
    if (!started || stats_generation != generation)
      return;
    refresh_stats ();
    schedule_stats (element, generation, refresh_stats);
  });
}

void
ElementCore::stop (std::function<void ()> on_stop)
{
  // No signaller callback for the element after this.
  if (signaller) {
    for (gulong id : handler_ids_)
      g_signal_handler_disconnect (signaller.get (), id);
    rtcstream_signaller_stop (signaller.get ());
  }
  handler_ids_.clear ();
  worker->run_sync ([this, &on_stop] {
    on_stop ();
    started = false;
    signaller.reset ();
  });
  WebrtcSession::finish_preparing ();
}

namespace {

// True while a thread changes the state of element's top-level bin: it
// holds that bin's state lock for the whole of gst_element_set_state.
bool
pipeline_state_change_running (GstElement *element)
{
  Ref<GstObject> top = Ref<GstObject>::take_ref (GST_OBJECT (element));
  while (GstObject *parent = gst_object_get_parent (top.get ()))
    top = Ref<GstObject>::adopt (parent);
  GRecMutex *lock = GST_STATE_GET_LOCK (top.get ());
  if (!g_rec_mutex_trylock (lock))
    return true;
  g_rec_mutex_unlock (lock);
  return false;
}

// How often post_error looks again while a state change runs; how long it
// waits at most (a state change that takes longer is not gst-launch's
// first one: post anyway).
constexpr guint kSettlePollMs = 10;
constexpr guint kSettleMaxMs = 5000;

}  // namespace

void
ElementCore::post_error (GstElement *element, GstResourceError code, const GError *err)
{
  std::string debug = std::string ("signaller error domain ") +
      g_quark_to_string (err->domain) + " code " + std::to_string (err->code);
  Ref<GstElement> ref = Ref<GstElement>::take_ref (element);
  std::string message = err->message;
  worker->post ([this, ref, code, message, debug] {
    post_error_when_settled (ref, code, message, debug, 0, false);
  });
}

void
ElementCore::post_error_when_settled (Ref<GstElement> element, GstResourceError code,
    std::string message, std::string debug, guint waited_ms, bool last_look)
{
  if (!started)
    return;
  bool running = pipeline_state_change_running (element.get ());
  if (!last_look && waited_ms < kSettleMaxMs && (running || waited_ms > 0)) {
    // Once a state change seen running has ended, one more poll: gst-launch
    // runs its loop right after its set_state returns.
    const bool last = !running;
    const guint next = waited_ms + kSettlePollMs;
    worker->post_delayed (kSettlePollMs, [this, element, code, message, debug, next, last] {
      post_error_when_settled (element, code, message, debug, next, last);
    });
    return;
  }
  gst_element_message_full (element.get (), GST_MESSAGE_ERROR, GST_RESOURCE_ERROR, code,
      g_strdup (message.c_str ()), g_strdup (debug.c_str ()), __FILE__, GST_FUNCTION, __LINE__);
}

void
on_signaller_warning (RtcstreamSignaller *, GError *err, gpointer element)
{
  GST_ELEMENT_WARNING (GST_ELEMENT (element), RESOURCE, OPEN_READ_WRITE, ("%s", err->message),
      ("signaller warning domain %s code %d", g_quark_to_string (err->domain), err->code));
}

void
ElementCore::adopt_remote_channels (const std::string &session, GstElement *webrtcbin)
{
  // A raw pointer: the webrtcbin is a child that the session's close ()
  // removes before the element can go away; a ref here would keep the
  // element alive.
  auto *ctx = new ChannelCtx{this, session};
  g_signal_connect_data (webrtcbin, "on-data-channel", G_CALLBACK (on_remote_data_channel),
      ctx, [] (gpointer data, GClosure *) {
        delete static_cast<ChannelCtx *> (data);
      }, (GConnectFlags) 0);
}

}  // namespace rtcstream
