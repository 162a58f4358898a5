// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstreamsink's consumers: one session each, its webrtcbin fed by a
// branch (queue ! payloader) per input from the encoder group of the codec
// the consumer chose. Made when a consumer asks, linked once its answer is
// applied, torn down completely when it leaves or fails, without touching
// the others.
#include "sink-private.h"

#include <algorithm>
#include <mutex>

namespace rtcstream::sink {

namespace {

// How long after its DTLS is up a consumer of passed-through video gets the
// frames since the last keyframe.
constexpr guint kReplayAfterConnectedMs = 20;

// Worker thread (the session bounces webrtcbin's state changes there).
void
on_consumer_state (RtcstreamSink *self, const std::string &session_id,
    GstWebRTCPeerConnectionState state)
{
  State *st = self->state;
  auto it = st->consumers.find (session_id);
  if (it == st->consumers.end ())
    return;
  std::shared_ptr<Consumer> c = it->second;
  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED) {
    // DTLS is up: frames flow from now on, so ask for a fresh keyframe.
    for (Branch &b : c->branches) {
      GstPad *qsink = gst_element_get_static_pad (b.queue, "sink");
      request_keyframe (qsink);
      gst_object_unref (qsink);
    }
    // Passed-through video goes on with the frames since the last keyframe,
    // a little later: the consumer's end of DTLS finishes after ours, and
    // what comes before it has its SRTP keys is lost.
    Ref<RtcstreamSink> ref = Ref<RtcstreamSink>::take_ref (self);
    st->worker->post_delayed (kReplayAfterConnectedMs, [ref, session_id] {
      State *st = ref->state;
      auto it = st->consumers.find (session_id);
      if (!st->started || it == st->consumers.end ())
        return;
      for (Branch &b : it->second->branches)
        if (b.group->recent)
          replay_recent_frames (b.group_tee_pad, b.group->recent);
    });
  } else if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED) {
    std::string why = c->session->failure ();
    warn_consumer (self, c->session->peer_id (), why.empty ()
            ? "the connection failed (ICE or DTLS): no network path to it. On separate "
              "networks set stun-server and turn-servers"
            : "the connection failed: " + why);
    remove_consumer (self, session_id, true);
  }
}

}  // namespace

void
warn_consumer (RtcstreamSink *self, const std::string &peer, const std::string &msg)
{
  GST_ELEMENT_WARNING (self, STREAM, FAILED,
      ("Consumer %s: %s", peer.c_str (), msg.c_str ()), (nullptr));
}

namespace {

// The m-line of the consumer's offer an input answers: the first one not
// taken whose media is of the input's kind and receives one of its codecs.
// Fills the offer's payload types and parameters of those codecs, in our
// order of preference. -1 when the consumer asks for nothing of the input.
gint
offered_mline (const GstWebRTCSessionDescription *offer, const InputStream &in,
    const std::vector<const Codec *> &codecs, const std::vector<guint> &taken,
    std::vector<CodecChoice> &matching)
{
  for (guint m = 0; m < gst_sdp_message_medias_len (offer->sdp); m++) {
    if (std::find (taken.begin (), taken.end (), m) != taken.end ())
      continue;
    std::vector<CodecChoice> choices = sdp_media_choices (offer->sdp, m, true);
    matching.clear ();
    for (const Codec *codec : codecs)
      for (const CodecChoice &c : choices)
        if (c.codec == codec && c.codec->kind == in.kind)
          matching.push_back (c);
    if (!matching.empty ())
      return static_cast<gint> (m);
  }
  return -1;
}

// Asks for an RTP header extension of ours (playout-delay, abs-capture-
// time) on a video input's codec preferences, with the id id: the payloader
// then negotiates it with webrtcbin and asks for an implementation
// (on_request_extension).
void
add_extmap (GstCaps *caps, guint id, const char *uri)
{
  const std::string field = "extmap-" + std::to_string (id);
  for (guint k = 0; k < gst_caps_get_size (caps); k++)
    gst_structure_set (gst_caps_get_structure (caps, k), field.c_str (), G_TYPE_STRING, uri,
        nullptr);
}

// What a video payloader's request-extension handler gives it.
struct ExtensionRequest {
  // The negotiated ids, 0 when the answer left the extension out.
  guint playout_delay_id;
  guint min_ms, max_ms;
  guint capture_time_id;
};

// The payloader's streaming thread, when its caps name an extension of
// ours: ours (playout delay with the element's values), when the answer has
// it; nothing (not even the registry's default) when it does not.
GstRTPHeaderExtension *
on_request_extension (GstElement *payloader, guint ext_id, const char *uri, gpointer data)
{
  const auto *req = static_cast<const ExtensionRequest *> (data);
  GstRTPHeaderExtension *ext = nullptr;
  if (g_strcmp0 (uri, kPlayoutDelayExtensionUri) == 0) {
    if (req->playout_delay_id && req->playout_delay_id == ext_id)
      ext = GST_RTP_HEADER_EXTENSION (g_object_new (RTCSTREAM_TYPE_PLAYOUT_DELAY_EXTENSION,
          "min-delay", req->min_ms, "max-delay", req->max_ms, nullptr));
  } else if (g_strcmp0 (uri, kAbsCaptureTimeExtensionUri) == 0) {
    if (req->capture_time_id && req->capture_time_id == ext_id)
      ext = GST_RTP_HEADER_EXTENSION (
          g_object_new (RTCSTREAM_TYPE_ABS_CAPTURE_TIME_EXTENSION, nullptr));
  } else {
    return nullptr;  // the payloader's own choice (TWCC...)
  }
  if (!ext) {
    g_signal_stop_emission_by_name (payloader, "request-extension");
    return nullptr;
  }
  gst_object_ref_sink (ext);
  gst_rtp_header_extension_set_id (ext, ext_id);
  return ext;
}

// Worker thread (inputs are removed there too). An input without caps yet
// whose upstream already names its one encoded codec (rtcstreamsrc before
// its first packet: codecs.h, codec_known_event) takes those caps: its
// consumers are answered at once, their media starting with the stream's
// first packets, instead of after them. The stream's own caps replace them.
void
adopt_announced_caps (RtcstreamSink *self)
{
  State *st = self->state;
  std::vector<InputStream *> waiting;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    for (auto &in : st->inputs)
      if (!in->caps && !in->eos)
        waiting.push_back (in.get ());
  }
  for (InputStream *in : waiting) {
    GstCaps *caps = gst_pad_peer_query_caps (in->ghost, nullptr);
    if (caps && gst_caps_is_fixed (caps) && codec_for_encoded_caps (caps)) {
      std::lock_guard<std::mutex> lk (st->lock);
      if (!in->caps) {
        GST_INFO_OBJECT (self, "%s: upstream announces %" GST_PTR_FORMAT
            " before its first buffer", in->name.c_str (), caps);
        in->caps = gst_caps_ref (caps);
        in->recent->set_encoded (in->kind == MediaKind::Video);
      }
    }
    if (caps)
      gst_caps_unref (caps);
  }
}

}  // namespace

// Worker thread.
void
start_consumer (RtcstreamSink *self, const SessionRequest &request)
{
  State *st = self->state;
  const std::string &session_id = request.id, &peer_id = request.peer;
  if (!st->started || st->consumers.count (session_id))
    return;
  adopt_announced_caps (self);
  CommonSettings settings;
  bool caps_missing = false;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    settings = st->settings;
    for (auto &in : st->inputs)
      caps_missing |= in->caps == nullptr && !in->eos;
    caps_missing |= st->inputs.empty () && st->data_inputs.empty ();
  }
  if (caps_missing) {
    GST_INFO_OBJECT (self, "session %s waits until every input has caps", session_id.c_str ());
    st->pending.push_back (request);
    return;
  }

  auto c = std::make_shared<Consumer> ();
  {
    std::lock_guard<std::mutex> lk (st->lock);
    c->playout_delay = st->playout_delay;
  }
  c->session = std::make_shared<WebrtcSession> (session_id, peer_id, st->worker,
      st->signaller.get (), GST_BIN (self));
  Ref<RtcstreamSink> ref = Ref<RtcstreamSink>::take_ref (self);
  std::string error = c->session->create (ice_config (settings), 0,
      [ref, session_id] (GstWebRTCPeerConnectionState s) {
        on_consumer_state (ref.get (), session_id, s);
      });
  if (!error.empty ()) {
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN, ("%s", error.c_str ()), (nullptr));
    return;
  }
  {
    std::lock_guard<std::mutex> lk (st->lock);
    st->consumers[session_id] = c;
  }
  const GstWebRTCSessionDescription *offer = request.offer.get ();
  std::vector<guint> taken;  // m-lines of the offer answered so far
  // Offering: each input's codec we prefer, whose group starts early.
  std::vector<std::pair<InputStream *, const Codec *>> preferred;
  std::string asked;         // the inputs' codecs, when the offer takes none
  for (auto &in : st->inputs) {
    GstCaps *caps;
    {
      std::lock_guard<std::mutex> lk (st->lock);
      caps = in->caps ? gst_caps_ref (in->caps) : nullptr;
    }
    std::vector<const Codec *> codecs = candidate_codecs (settings, *in, caps);
    if (caps)
      gst_caps_unref (caps);
    if (codecs.empty ()) {
      error = "no codec can be sent for " + in->name + ": none of " +
          codec_list_to_string (in->kind == MediaKind::Video ? settings.video_codecs
                                                             : settings.audio_codecs) +
          " has its encoder and payloader installed";
      break;
    }
    GstCaps *offer_caps = gst_caps_new_empty ();
    GstPad *pad = nullptr;
    if (offer) {
      // Answering: the input goes on the m-line that asks for it, with the
      // offer's payload types; an input it does not ask for stays out.
      std::vector<CodecChoice> matching;
      const gint mline = offered_mline (offer, *in, codecs, taken, matching);
      asked += (asked.empty () ? "" : "; ") + in->name + ": " + codec_list_to_string (codecs);
      if (mline < 0)
        continue;
      taken.push_back (static_cast<guint> (mline));
      for (const CodecChoice &choice : matching)
        gst_caps_append (offer_caps, preference_caps (choice, true));
      // A consumer that offers the playout-delay or abs-capture-time
      // extension (Chromium does) gets it with its id.
      const guint delay_id = sdp_media_extmap_id (offer->sdp, static_cast<guint> (mline),
          kPlayoutDelayExtensionUri);
      if (in->kind == MediaKind::Video && delay_id && c->playout_delay.enabled ())
        add_extmap (offer_caps, delay_id, kPlayoutDelayExtensionUri);
      const guint capture_id = sdp_media_extmap_id (offer->sdp, static_cast<guint> (mline),
          kAbsCaptureTimeExtensionUri);
      if (in->kind == MediaKind::Video && capture_id)
        add_extmap (offer_caps, capture_id, kAbsCaptureTimeExtensionUri);
      // Named after its m-line, so webrtcbin ties it to that m-line's
      // transceiver (an unnamed pad is numbered by request order, and a
      // rejected m-line before it got its pad: webrtcbin then aborted).
      GstPadTemplate *templ = gst_element_get_pad_template (c->session->webrtcbin (),
          "sink_%u");
      pad = gst_element_request_pad (c->session->webrtcbin (), templ,
          ("sink_" + std::to_string (mline)).c_str (), nullptr);
    } else {
      for (const Codec *codec : codecs)
        gst_caps_append (offer_caps, rtp_caps (*codec, codec->default_pt, true));
      if (in->kind == MediaKind::Video && c->playout_delay.enabled ())
        add_extmap (offer_caps, kPlayoutDelayExtensionId, kPlayoutDelayExtensionUri);
      if (in->kind == MediaKind::Video)
        add_extmap (offer_caps, kAbsCaptureTimeExtensionId, kAbsCaptureTimeExtensionUri);
      pad = gst_element_request_pad_simple (c->session->webrtcbin (), "sink_%u");
    }
    const guint ssrc = g_random_int ();
    for (guint k = 0; k < gst_caps_get_size (offer_caps); k++)
      gst_structure_set (gst_caps_get_structure (offer_caps, k), "ssrc", G_TYPE_UINT, ssrc,
          nullptr);
    c->ssrcs.push_back (ssrc);
    GstWebRTCRTPTransceiver *trans = nullptr;
    if (pad)
      g_object_get (pad, "transceiver", &trans, nullptr);
    if (trans) {
      g_object_set (trans, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY,
          "codec-preferences", offer_caps, nullptr);
      if (in->kind == MediaKind::Video)
        g_object_set (trans, "do-nack", TRUE, nullptr);
      gst_object_unref (trans);
    }
    gst_caps_unref (offer_caps);
    if (!pad) {
      error = "webrtcbin gave no pad for " + in->name;
      break;
    }
    c->pads.emplace_back (in.get (), pad);
    c->offered.push_back (codec_list_to_string (codecs));
    if (!offer)
      preferred.emplace_back (in.get (), codecs.front ());
  }
  if (error.empty () && offer && c->pads.empty ())
    error = "its offer asks for none of this stream's media (" + asked + ")";
  if (!error.empty ()) {
    warn_consumer (self, peer_id, error);
    remove_consumer (self, session_id, true);
    return;
  }
  c->session->sync_state ();
  // Our channels go into our offers, or into answers to offers that have
  // an m=application section to put them in.
  bool channels = !offer;
  for (guint m = 0; offer && m < gst_sdp_message_medias_len (offer->sdp); m++)
    channels |= g_strcmp0 (gst_sdp_media_get_media (gst_sdp_message_get_media (offer->sdp, m)),
        "application") == 0;
  open_channels (self, session_id, c->session->webrtcbin (), channels);
  auto failed = [ref, session_id, peer_id] (const std::string &err) {
    warn_consumer (ref.get (), peer_id, err);
    remove_consumer (ref.get (), session_id, true);
  };
  if (offer) {
    GST_INFO_OBJECT (self, "answering consumer %s (session %s)", peer_id.c_str (),
        session_id.c_str ());
    c->session->set_remote (request.offer.get (), [ref, session_id, failed] (
        const std::string &err) {
      auto it = ref->state->consumers.find (session_id);
      if (it == ref->state->consumers.end ())
        return;
      if (!err.empty ()) {
        failed (err);
        return;
      }
      it->second->session->answer ([ref, session_id, failed] (const std::string &err) {
        if (!err.empty ())
          failed (err);
        else
          link_consumer (ref.get (), session_id);
      });
    });
  } else {
    GST_INFO_OBJECT (self, "offering to consumer %s (session %s)", peer_id.c_str (),
        session_id.c_str ());
    c->session->offer ([failed] (const std::string &err) {
      if (!err.empty ())
        failed (err);
    });
    // With the offer on its way, start the encoders of the codecs we prefer
    // rather than when the answer comes: they are warm (their first keyframe
    // made) by the time the connection is up. The consumer usually takes our
    // first codec; a group it does not take goes when the answer is linked.
    for (auto &[in, codec] : preferred) {
      std::string ignored;
      if (EncoderGroup *g = get_group (self, in, codec, ignored)) {
        g->reserved++;
        c->reserved.push_back (g);
      }
    }
  }
  c->announced = true;
  g_signal_emit (self, consumer_signals[SIGNAL_CONSUMER_ADDED], 0, peer_id.c_str (),
      c->session->webrtcbin ());
}

void
process_pending (RtcstreamSink *self)
{
  State *st = self->state;
  auto pending = std::move (st->pending);
  st->pending.clear ();
  for (const SessionRequest &r : pending)
    start_consumer (self, r);
  prepare_encoders (self);
}

// Worker thread: the answer is applied; link each input to the codec chosen.
void
link_consumer (RtcstreamSink *self, const std::string &session_id)
{
  State *st = self->state;
  auto it = st->consumers.find (session_id);
  if (it == st->consumers.end ())
    return;
  std::shared_ptr<Consumer> c = it->second;
  GstWebRTCSessionDescription *answer = c->session->answer_description ();
  if (!answer) {
    warn_consumer (self, c->session->peer_id (), "no answer applied");
    remove_consumer (self, session_id, true);
    return;
  }
  check_data_answer (self, session_id, answer);
  std::string codecs_used;
  std::string error;
  for (size_t i = 0; i < c->pads.size () && error.empty (); i++) {
    InputStream *in = c->pads[i].first;
    GstPad *wpad = c->pads[i].second;
    if (!in)
      continue;  // released meanwhile
    GstWebRTCRTPTransceiver *trans = nullptr;
    g_object_get (wpad, "transceiver", &trans, nullptr);
    guint mline = i;
    if (trans) {
      g_object_get (trans, "mlineindex", &mline, nullptr);
      gst_object_unref (trans);
    }
    guint pt = 0;
    std::string name = sdp_media_codec (answer->sdp, mline, &pt);
    const Codec *codec = name.empty () ? nullptr : codec_by_name (name);
    if (!codec) {
      error = "it accepts none of the codecs offered for " + in->name + " (" +
          c->offered[i] + "). Add a codec it supports to " +
          (in->kind == MediaKind::Video ? "video-codecs" : "audio-codecs") +
          " or publish in a codec it supports";
      break;
    }
    EncoderGroup *group = get_group (self, in, codec, error);
    if (!group)
      break;
    Branch b;
    b.group = group;
    // The whole id: element names must be unique in the bin, and a
    // signaller's ids need not differ in their first characters.
    std::string base = session_id + "-" + in->name;
    b.queue = make_element ("queue", base + "-queue");
    // Leaky: a consumer that cannot keep up (or whose DTLS handshake is not
    // done yet) loses frames instead of stalling the encoder for everyone.
    g_object_set (b.queue, "max-size-buffers", 0u, "max-size-bytes", 0u, "max-size-time",
        (guint64) (500 * GST_MSECOND), nullptr);
    gst_util_set_object_arg (G_OBJECT (b.queue), "leaky", "downstream");
    b.payloader = make_payloader (*codec, pt, (base + "-pay").c_str ());
    if (b.payloader && i < c->ssrcs.size ())
      g_object_set (b.payloader, "ssrc", c->ssrcs[i], nullptr);
    if (b.payloader && in->kind == MediaKind::Video) {
      // The playout delay and the capture time go on the video when the
      // answer has them.
      const PlayoutDelaySettings &pd = c->playout_delay;
      auto *req = new ExtensionRequest {
          pd.enabled () ? sdp_media_extmap_id (answer->sdp, mline, kPlayoutDelayExtensionUri)
                        : 0,
          static_cast<guint> (std::min (pd.min_ms, pd.max_ms)),
          static_cast<guint> (pd.max_ms),
          sdp_media_extmap_id (answer->sdp, mline, kAbsCaptureTimeExtensionUri)};
      g_signal_connect_data (b.payloader, "request-extension", G_CALLBACK (on_request_extension),
          req, [] (gpointer data, GClosure *) { delete static_cast<ExtensionRequest *> (data); },
          (GConnectFlags) 0);
      if (req->playout_delay_id) {
        std::lock_guard<std::mutex> lk (st->lock);
        c->playout_delay_sent = std::to_string (req->min_ms) + "," + std::to_string (req->max_ms);
      }
    }
    if (!b.payloader) {
      gst_object_unref (b.queue);
      error = std::string ("payloader ") + codec->payloader + " is missing";
      break;
    }
    gst_bin_add_many (GST_BIN (self), b.queue, b.payloader, nullptr);
    GstPad *pay_src = gst_element_get_static_pad (b.payloader, "src");
    bool ok = gst_element_link (b.queue, b.payloader) &&
        gst_pad_link (pay_src, wpad) == GST_PAD_LINK_OK;
    gst_object_unref (pay_src);
    gst_element_sync_state_with_parent (b.payloader);
    gst_element_sync_state_with_parent (b.queue);
    b.group_tee_pad = gst_element_request_pad_simple (group->tee, "src_%u");
    if (group->recent)
      replay_on_keyframe_requests (b.group_tee_pad, group->recent);
    GstPad *qsink = gst_element_get_static_pad (b.queue, "sink");
    ok = ok && gst_pad_link (b.group_tee_pad, qsink) == GST_PAD_LINK_OK;
    group->consumers++;
    {
      std::lock_guard<std::mutex> lk (st->lock);  // stats read the branches
      c->branches.push_back (std::move (b));
    }
    if (!ok) {
      gst_object_unref (qsink);
      error = "could not link " + in->name + " to the WebRTC session";
      break;
    }
    // A joining consumer needs a keyframe now, not at the next interval.
    // Asked before a prepared encoder starts, so that the first picture it
    // is given is that keyframe.
    request_keyframe (qsink);
    use_group (group);
    gst_object_unref (qsink);
    codecs_used += (codecs_used.empty () ? "" : ",") + std::string (codec->name);
  }
  gst_webrtc_session_description_free (answer);
  unreserve_groups (self, *c);
  if (!error.empty ()) {
    warn_consumer (self, c->session->peer_id (), error);
    remove_consumer (self, session_id, true);
    return;
  }
  c->linked = true;
  c->session->set_codecs (codecs_used);
  watch_congestion (self, session_id, *c);
  GST_INFO_OBJECT (self, "consumer %s receives %s", c->session->peer_id ().c_str (),
      codecs_used.c_str ());
}

namespace {

// Worker thread: takes one branch out: unlinked from its group's tee (which
// keeps feeding the others), its elements stopped and removed. With
// keep_session the consumer's webrtcbin stays: the branch is unlinked from
// it before its queue is flushed, because a flush entering webrtcbin would
// flush the bundled transport of every media of the session (rtpfunnel
// forwards it), and the flushing would travel back up to the encoders.
void
unlink_branch (RtcstreamSink *self, Branch &b, bool keep_session)
{
  settle_switch (self, b);  // the branch is on one rendition, with one tee pad
  GstPad *qsink = gst_element_get_static_pad (b.queue, "sink");
  gst_pad_unlink (b.group_tee_pad, qsink);
  gst_object_unref (qsink);
  gst_element_release_request_pad (b.group->tee, b.group_tee_pad);
  gst_object_unref (b.group_tee_pad);
  GstPad *qsrc = gst_element_get_static_pad (b.queue, "src");
  if (keep_session) {
    GstPad *paysrc = gst_element_get_static_pad (b.payloader, "src");
    if (GstPad *peer = gst_pad_get_peer (paysrc)) {
      gst_pad_unlink (paysrc, peer);
      gst_object_unref (peer);
    }
    gst_object_unref (paysrc);
  }
  // A consumer that never connected has its queue's thread blocked inside
  // webrtcbin, which holds data until DTLS is up: flush it out, or
  // stopping the queue would wait for that thread forever. (Only for a
  // session that goes: drop_input_from_consumers removes unconnected ones.)
  gst_pad_push_event (qsrc, gst_event_new_flush_start ());
  gst_object_unref (qsrc);
  remove_elements (GST_BIN (self), {b.queue, b.payloader});
  b.group->consumers--;
}

}  // namespace

// Worker thread.
void
drop_input_from_consumers (RtcstreamSink *self, InputStream *in)
{
  State *st = self->state;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    in->released = true;  // no encoder is prepared for it any more
  }
  // A consumer whose connection is not up may have a branch's thread held
  // inside its webrtcbin, which only a flush through webrtcbin frees: such a
  // consumer is removed whole (it was still joining).
  std::vector<std::string> joining;
  for (auto &[id, c] : st->consumers)
    if (c->session->stats ().state != "connected")
      joining.push_back (id);
  for (const std::string &id : joining) {
    warn_consumer (self, st->consumers[id]->session->peer_id (), "an input (" + in->name +
        ") was released while it was joining; it has to join again");
    remove_consumer (self, id, true);
  }
  for (auto &[id, c] : st->consumers) {
    std::vector<EncoderGroup *> left;
    for (auto it = c->branches.begin (); it != c->branches.end ();) {
      if (it->group->input != in) {
        ++it;
        continue;
      }
      unlink_branch (self, *it, true);
      left.push_back (it->group);
      std::lock_guard<std::mutex> lk (st->lock);  // stats read the branches
      it = c->branches.erase (it);
    }
    for (EncoderGroup *g : left)
      release_group_if_unused (self, g);
    // Its webrtcbin pad stays (the m-line is negotiated) and sends nothing.
    for (auto &p : c->pads)
      if (p.first == in)
        p.first = nullptr;
    GST_INFO_OBJECT (self, "consumer %s no longer receives %s",
        c->session->peer_id ().c_str (), in->name.c_str ());
  }
  drop_prepared_encoders (self, in);
}

// Worker thread. Unlinks and removes one consumer completely.
void
remove_consumer (RtcstreamSink *self, const std::string &session_id, bool tell_signaller)
{
  State *st = self->state;
  auto it = st->consumers.find (session_id);
  if (it == st->consumers.end ())
    return;
  std::shared_ptr<Consumer> c = it->second;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    st->consumers.erase (it);
  }
  GST_INFO_OBJECT (self, "removing consumer %s (session %s)", c->session->peer_id ().c_str (),
      session_id.c_str ());
  for (Branch &b : c->branches)
    unlink_branch (self, b, false);
  for (auto &p : c->pads)
    gst_object_unref (p.second);
  c->pads.clear ();
  for (Branch &b : c->branches)
    release_group_if_unused (self, b.group);
  c->branches.clear ();
  unreserve_groups (self, *c);
  GstElement *webrtc = c->session->webrtcbin ();
  std::string peer = c->session->peer_id ();
  if (webrtc)
    gst_object_ref (webrtc);
  st->channels->remove_session (session_id);
  remove_data_links (self, session_id);
  c->session->close ();
  if (tell_signaller && st->signaller)
    rtcstream_signaller_end_session (st->signaller.get (), session_id.c_str ());
  if (c->announced)
    g_signal_emit (self, consumer_signals[SIGNAL_CONSUMER_REMOVED], 0, peer.c_str (), webrtc);
  if (webrtc)
    gst_object_unref (webrtc);
}

}  // namespace rtcstream::sink
