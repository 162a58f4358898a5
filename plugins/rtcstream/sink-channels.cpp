// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstreamsink's data channels: the "input" (navigation) and "data"
// channels it offers each consumer, navigation messages pushed upstream as
// GstNavigation events, and the message signals and send actions. The
// channels' handlers run on the worker, the send actions on any thread.
#include "sink-private.h"

#include <mutex>

#include "rtcstream/datachannel.h"

namespace rtcstream::sink {

namespace {

// A navigation message from a consumer goes upstream from the first video
// input, its coordinates scaled to that input's frame size.
void
on_navigation_message (RtcstreamSink *self, const std::string &session_id,
    const std::string &text)
{
  State *st = self->state;
  InputStream *video = nullptr;
  int width = 0, height = 0;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    if (!st->navigation)
      return;
    for (auto &in : st->inputs) {
      if (in->kind == MediaKind::Video && !video) {
        video = in.get ();
        if (in->caps && gst_caps_get_size (in->caps) > 0) {
          GstStructure *cs = gst_caps_get_structure (in->caps, 0);
          gst_structure_get_int (cs, "width", &width);
          gst_structure_get_int (cs, "height", &height);
        }
      }
    }
  }
  if (!video)
    return;
  std::string error;
  GstEvent *event = navigation_from_json (text, width, height, error);
  if (!event) {
    GST_DEBUG_OBJECT (self, "consumer %s: ignoring a navigation message: %s",
        peer_of (self, session_id).c_str (), error.c_str ());
    return;
  }
  GST_LOG_OBJECT (self, "navigation from %s: %" GST_PTR_FORMAT,
      peer_of (self, session_id).c_str (), gst_event_get_structure (event));
  gst_pad_push_event (video->ghost, event);
}

// Any thread: the session of a consumer, "" for every consumer when peer is
// null or empty; false when no consumer has that id.
bool
session_of_peer (RtcstreamSink *self, const gchar *peer, std::string &session)
{
  session.clear ();
  if (!peer || !*peer)
    return true;
  std::lock_guard<std::mutex> lk (self->state->lock);
  for (auto &kv : self->state->consumers) {
    if (kv.second->session->peer_id () == peer) {
      session = kv.first;
      return true;
    }
  }
  return false;
}

}  // namespace

// Worker thread: the channels this element opens, and any the consumer opens.
void
open_channels (RtcstreamSink *self, const std::string &session_id, GstElement *webrtc,
    bool create)
{
  State *st = self->state;
  bool navigation, data, data_pads;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    navigation = st->navigation;
    data = st->data_channel;
    data_pads = !st->data_inputs.empty ();
  }
  // A signaller whose endpoint takes audio and video only (WHIP) says so:
  // a data channel in the offer would make it refuse the whole session.
  const bool media_only = st->signaller && (rtcstream_signaller_get_features (
      st->signaller.get ()) & RTCSTREAM_SIGNALLER_FEATURE_MEDIA_ONLY);
  if (!create) {
    navigation = data = false;
    if (data_pads)
      warn_consumer (self, peer_of (self, session_id), "its offer has no data channel "
          "section (m=application): the data pads are not sent to it");
  } else if (media_only && data_pads) {
    warn_consumer (self, peer_of (self, session_id), "the signaller's endpoint takes audio "
        "and video only: the data pads are not sent to it");
  }
  if (create && media_only && (navigation || data)) {
    GST_INFO_OBJECT (self, "the signaller's endpoint takes no data channels: not offering any");
    navigation = data = false;
  }
  if (navigation)
    st->channels->create (session_id, webrtc, kInputChannelLabel);
  if (data)
    st->channels->create (session_id, webrtc, kDataChannelLabel);
  if (create && !media_only && data_pads)
    open_data_channels (self, session_id, webrtc);
  st->adopt_remote_channels (session_id, webrtc);
}

std::string
peer_of (RtcstreamSink *self, const std::string &session_id)
{
  auto it = self->state->consumers.find (session_id);
  return it == self->state->consumers.end () ? std::string () : it->second->session->peer_id ();
}

DataChannels::Handlers
channel_handlers (RtcstreamSink *self)
{
  DataChannels::Handlers h = message_signal_handlers (GST_ELEMENT (self), message_signals,
      [self] (const std::string &session) { return peer_of (self, session); });
  h.input = [self] (const std::string &session, const std::string &text) {
    on_navigation_message (self, session, text);
  };
  return h;
}

guint
send_text_action (RtcstreamSink *self, const gchar *peer, const gchar *text)
{
  std::string session;
  if (!text || !session_of_peer (self, peer, session))
    return 0;
  return self->state->channels->send_text (session, text);
}

guint
send_binary_action (RtcstreamSink *self, const gchar *peer, GBytes *bytes)
{
  std::string session;
  if (!bytes || !session_of_peer (self, peer, session))
    return 0;
  return self->state->channels->send_binary (session, bytes);
}

}  // namespace rtcstream::sink
