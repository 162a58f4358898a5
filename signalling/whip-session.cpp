// SPDX-License-Identifier: LGPL-2.1-or-later
#include "whip-session.h"

#include <gst/webrtc/webrtc.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "ice-servers.h"

GST_DEBUG_CATEGORY_STATIC (whip_session_debug);
#define GST_CAT_DEFAULT whip_session_debug

namespace rtcstream::signalling {

namespace {

// How long to wait for ICE gathering once the answer is set before
// answering with the candidates known so far.
constexpr guint kGatherWaitMs = 3000;
constexpr guint kJitterbufferMs = 100;
// A connected peer that sends no RTCP for this long is gone.
constexpr gint64 kSilenceLimitS = 20;

// User data of signal handlers, probes and sources: keeps the session alive
// for as long as the callback can run.
struct Box {
  WhipSessionPtr res;
};

Box *
box (const WhipSessionPtr &res)
{
  return new Box{ res };
}

void
free_box (gpointer data)
{
  delete static_cast<Box *> (data);
}

void
free_box_closure (gpointer data, GClosure *)
{
  free_box (data);
}

template <typename Fn>
gulong
connect (gpointer instance, const char *signal, Fn handler, const WhipSessionPtr &res)
{
  return g_signal_connect_data (instance, signal, G_CALLBACK (handler), box (res),
      free_box_closure, static_cast<GConnectFlags> (0));
}

std::string
escaped (const std::string &name)
{
  g_autofree char *e = g_uri_escape_string (name.c_str (), nullptr, FALSE);
  return e;
}

// Runs fn on the owner's main context with the session, unless the owner
// ended it meanwhile. Callable from any thread.
void
on_main (const WhipSessionPtr &res, std::function<void (const WhipSessionPtr &)> fn)
{
  struct Job {
    WhipSessionPtr res;
    std::function<void (const WhipSessionPtr &)> fn;
  };
  g_main_context_invoke_full (res->owner->context (), G_PRIORITY_DEFAULT,
      [] (gpointer data) -> gboolean {
        auto *job = static_cast<Job *> (data);
        if (job->res->alive)
          job->fn (job->res);
        return G_SOURCE_REMOVE;
      }, new Job{ res, std::move (fn) }, [] (gpointer data) { delete static_cast<Job *> (data); });
}

// Main: tells the owner once the answer is set and ICE gathering is done.
// Main, once connected: ends the session when the peer has sent no RTCP
// (sender or receiver reports, which every WebRTC peer sends every few
// seconds) for kSilenceLimitS.
void
watch_silence (const WhipSessionPtr &res)
{
  if (res->silence_watch)
    return;
  if (res->last_heard_us == 0)
    res->last_heard_us = g_get_monotonic_time ();
  res->silence_watch = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, 2,
      [] (gpointer data) -> gboolean {
        WhipSessionPtr r = static_cast<Box *> (data)->res;
        if (g_get_monotonic_time () - r->last_heard_us < kSilenceLimitS * G_USEC_PER_SEC)
          return G_SOURCE_CONTINUE;
        r->silence_watch = 0;
        r->owner->ended (r, SOUP_STATUS_BAD_GATEWAY, "The peer went silent (no RTCP for " +
            std::to_string (kSilenceLimitS) + " s).");
        return G_SOURCE_REMOVE;
      }, box (res), free_box);
}

void
check_answer (const WhipSessionPtr &res)
{
  // WHIP answers once its stream is listed too, so that a viewer or WHEP
  // player that comes right after the 201 finds it.
  if (res->answer_sent || !res->answer || !res->gathered || (!res->whep && !res->registered))
    return;
  res->answer_sent = true;
  std::vector<std::pair<guint, std::string>> cands;
  {
    std::lock_guard<std::mutex> lk (res->lock);
    cands = res->candidates;
  }
  GST_INFO ("session %s answered", res->id.c_str ());
  res->owner->answered (res, answer_text (res->answer, cands));
}

void on_ingest_pad (const WhipSessionPtr &res, GstPad *pad);
void on_egress_pad (const WhipSessionPtr &res, GstPad *pad);
void egress_ready (const WhipSessionPtr &res);
void negotiate (const WhipSessionPtr &res);
std::string promise_error (GstPromise *p);
void on_answer (GstPromise *p, gpointer data);

GstElement *
make_webrtcbin (const WhipSessionPtr &res)
{
  GstElement *webrtc = gst_element_factory_make ("webrtcbin", "webrtc");
  if (!webrtc)
    return nullptr;
  gst_util_set_object_arg (G_OBJECT (webrtc), "bundle-policy", "max-bundle");
  g_object_set (webrtc, "latency", kJitterbufferMs, nullptr);
  for (const std::string &uri : webrtcbin_uris (res->ice_servers)) {
    if (g_str_has_prefix (uri.c_str (), "stun://")) {
      g_object_set (webrtc, "stun-server", uri.c_str (), nullptr);
    } else {
      gboolean ok = FALSE;
      g_signal_emit_by_name (webrtc, "add-turn-server", uri.c_str (), &ok);
      if (!ok)
        GST_WARNING ("webrtcbin refused TURN server %s", uri.substr (0, uri.find (':')).c_str ());
    }
  }
  connect (webrtc, "on-ice-candidate", +[] (GstElement *, guint mline, char *cand,
      gpointer data) {
    WhipSession &r = *static_cast<Box *> (data)->res;
    std::lock_guard<std::mutex> lk (r.lock);
    r.candidates.emplace_back (mline, cand);
  }, res);
  connect (webrtc, "notify::ice-gathering-state", +[] (GstElement *w, GParamSpec *,
      gpointer data) {
    GstWebRTCICEGatheringState state;
    g_object_get (w, "ice-gathering-state", &state, nullptr);
    if (state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
      on_main (static_cast<Box *> (data)->res, [] (const WhipSessionPtr &r) {
        r->gathered = true;
        check_answer (r);
      });
  }, res);
  connect (webrtc, "notify::connection-state", +[] (GstElement *w, GParamSpec *,
      gpointer data) {
    GstWebRTCPeerConnectionState state;
    g_object_get (w, "connection-state", &state, nullptr);
    if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED)
      on_main (static_cast<Box *> (data)->res, [] (const WhipSessionPtr &r) {
        r->owner->ended (r, SOUP_STATUS_BAD_GATEWAY, "The ICE/DTLS connection failed.");
      });
    else if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED)
      on_main (static_cast<Box *> (data)->res, [] (const WhipSessionPtr &r) {
        g_printerr ("%s session %s (%s) connected\n", r->whep ? "WHEP" : "WHIP",
            r->id.c_str (), r->name.c_str ());
        watch_silence (r);
      });
  }, res);
  // GStreamer 1.22's ICE does not notice a peer that vanished once connected
  // (no consent freshness), so its silence is what ends the session: an RTCP
  // BYE, or no RTCP from it for kSilenceLimitS (see watch_silence).
  g_autoptr (GstElement) rtpbin = gst_bin_get_by_name (GST_BIN (webrtc), "rtpbin");
  if (rtpbin) {
    connect (rtpbin, "on-bye-ssrc", +[] (GstElement *, guint, guint ssrc, gpointer data) {
      on_main (static_cast<Box *> (data)->res, [ssrc] (const WhipSessionPtr &r) {
        GST_INFO ("session %s: BYE from SSRC %u", r->id.c_str (), ssrc);
        r->owner->ended (r, SOUP_STATUS_BAD_GATEWAY, "The peer said goodbye (RTCP BYE).");
      });
    }, res);
    connect (rtpbin, "on-ssrc-active", +[] (GstElement *, guint, guint, gpointer data) {
      static_cast<Box *> (data)->res->last_heard_us = g_get_monotonic_time ();
    }, res);
  }
  return webrtc;
}

void
watch_bus (const WhipSessionPtr &res)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (res->pipeline.get ());
  res->bus_watch = gst_bus_add_watch_full (bus, G_PRIORITY_DEFAULT,
      [] (GstBus *, GstMessage *message, gpointer data) -> gboolean {
        WhipSessionPtr r = static_cast<Box *> (data)->res;
        if (!r->alive)
          return G_SOURCE_CONTINUE;
        if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
          g_autoptr (GError) err = nullptr;
          g_autofree char *dbg = nullptr;
          gst_message_parse_error (message, &err, &dbg);
          GST_WARNING ("session %s: %s (%s)", r->id.c_str (), err->message, dbg ? dbg : "");
          const bool taken = !r->whep && std::strstr (err->message, "taken");
          r->owner->ended (r, taken ? SOUP_STATUS_CONFLICT : SOUP_STATUS_BAD_GATEWAY,
              std::string ("The media pipeline failed: ") + err->message);
        } else if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ELEMENT &&
            gst_message_has_name (message, "rtcstream-registered")) {
          r->registered = true;
          check_answer (r);
        } else if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_WARNING) {
          g_autoptr (GError) err = nullptr;
          gst_message_parse_warning (message, &err, nullptr);
          g_printerr ("%s session %s (%s): warning: %s\n", r->whep ? "WHEP" : "WHIP",
              r->id.c_str (), r->name.c_str (), err->message);
        }
        return G_SOURCE_CONTINUE;
      }, box (res), free_box);
}

// WHIP: webrtcbin ! depayloader ! rtcstreamsink, one branch per usable
// media, prepared before the offer is applied.
// Returns 0, or the HTTP status of the failure explained in `error`.
guint
start_ingest (const WhipSessionPtr &res, std::string &error)
{
  res->pipeline = Ref<GstElement>::adopt (GST_ELEMENT (gst_object_ref_sink (
      gst_pipeline_new (("whip-" + res->id).c_str ()))));
  GstElement *webrtc = make_webrtcbin (res);
  GstElement *sink = gst_element_factory_make ("rtcstreamsink", "sink");
  if (!webrtc || !sink) {
    if (webrtc)
      gst_object_unref (gst_object_ref_sink (webrtc));
    if (sink)
      gst_object_unref (gst_object_ref_sink (sink));
    error = "Could not create webrtcbin or rtcstreamsink: a plugin failed to load "
        "(see the server log; check GST_PLUGIN_PATH).";
    return SOUP_STATUS_SERVICE_UNAVAILABLE;
  }
  g_object_set (sink, "uri", (res->local_uri + escaped (res->name)).c_str (), nullptr);
  if (!res->tls_ca_file.empty ())
    g_object_set (sink, "tls-ca-file", res->tls_ca_file.c_str (), nullptr);
  gst_bin_add_many (GST_BIN (res->pipeline.get ()), webrtc, sink, nullptr);
  res->webrtc = webrtc;

  for (std::size_t i = 0; i < res->offer.media.size (); i++) {
    const OfferMedia &m = res->offer.media[i];
    GstWebRTCRTPTransceiver *trans = nullptr;
    if (m.choices.empty ()) {
      g_signal_emit_by_name (webrtc, "add-transceiver",
          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_INACTIVE, nullptr, &trans);
      if (trans)
        gst_object_unref (trans);
      continue;
    }
    const CodecChoice &choice = m.choices.front ();
    g_autoptr (GstCaps) prefs = preference_caps (choice, false);
    g_signal_emit_by_name (webrtc, "add-transceiver",
        GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, prefs, &trans);
    if (trans)
      gst_object_unref (trans);
    const std::string base = "media" + std::to_string (i);
    GstElement *depay = make_depayloader (*choice.codec, (base + "-depay").c_str ());
    if (!depay) {
      error = std::string ("The depayloader for ") + choice.codec->name + " is missing.";
      return SOUP_STATUS_SERVICE_UNAVAILABLE;
    }
    gst_bin_add (GST_BIN (res->pipeline.get ()), depay);
    const bool video = m.kind == MediaKind::Video;
    g_autoptr (GstPad) sinkpad = gst_element_request_pad_simple (sink,
        video ? "video_%u" : "audio_%u");
    g_autoptr (GstPad) srcpad = gst_element_get_static_pad (depay, "src");
    if (!sinkpad || gst_pad_link (srcpad, sinkpad) != GST_PAD_LINK_OK) {
      error = "Could not link the received media to rtcstreamsink.";
      return SOUP_STATUS_INTERNAL_SERVER_ERROR;
    }
    WhipRoute route;
    route.media = i;
    route.codec = choice.codec;
    route.head = depay;
    std::lock_guard<std::mutex> lk (res->lock);
    res->routes.push_back (route);
  }
  connect (webrtc, "pad-added", +[] (GstElement *, GstPad *pad, gpointer data) {
    on_ingest_pad (static_cast<Box *> (data)->res, pad);
  }, res);
  watch_bus (res);
  if (gst_element_set_state (res->pipeline.get (), GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    error = "The receiving pipeline could not start; see the server log.";
    return SOUP_STATUS_INTERNAL_SERVER_ERROR;
  }
  negotiate (res);
  return 0;
}

// webrtcbin's thread: links a received stream to the branch of its m-line.
void
on_ingest_pad (const WhipSessionPtr &res, GstPad *pad)
{
  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  gint mline = -1;
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (pad), "transceiver")) {
    GstWebRTCRTPTransceiver *trans = nullptr;
    g_object_get (pad, "transceiver", &trans, nullptr);
    if (trans) {
      guint index = 0;
      g_object_get (trans, "mlineindex", &index, nullptr);
      mline = static_cast<gint> (index);
      gst_object_unref (trans);
    }
  }
  g_autoptr (GstCaps) caps = gst_pad_query_caps (pad, nullptr);
  const Codec *codec = codec_for_rtp_caps (caps);
  GstElement *head = nullptr;
  {
    std::lock_guard<std::mutex> lk (res->lock);
    for (WhipRoute &r : res->routes) {
      const bool match = mline >= 0
          ? res->offer.media[r.media].mline == static_cast<guint> (mline)
          : r.codec == codec;
      if (!r.linked && match) {
        r.linked = true;
        head = r.head;
        break;
      }
    }
  }
  GstElement *target = head;
  if (!target) {
    // Nothing of ours wants it: drop it rather than stop on not-linked.
    target = gst_element_factory_make ("fakesink", nullptr);
    g_object_set (target, "async", FALSE, "sync", FALSE, nullptr);
    gst_bin_add (GST_BIN (res->pipeline.get ()), target);
    gst_element_sync_state_with_parent (target);
  }
  g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (target, "sink");
  if (gst_pad_link (pad, sinkpad) != GST_PAD_LINK_OK)
    GST_WARNING ("session %s: could not link %s", res->id.c_str (), GST_PAD_NAME (pad));
  GST_INFO ("session %s: %s %" GST_PTR_FORMAT, res->id.c_str (),
      head ? "receiving" : "dropping", caps);
}

// WHEP: rtcstreamsrc first; webrtcbin once every pad's codec is known.
guint
start_egress (const WhipSessionPtr &res, std::string &error)
{
  res->pipeline = Ref<GstElement>::adopt (GST_ELEMENT (gst_object_ref_sink (
      gst_pipeline_new (("whep-" + res->id).c_str ()))));
  GstElement *src = gst_element_factory_make ("rtcstreamsrc", "src");
  if (!src) {
    error = "Could not create rtcstreamsrc: its plugin failed to load (see the server "
        "log; check GST_PLUGIN_PATH).";
    return SOUP_STATUS_SERVICE_UNAVAILABLE;
  }
  g_object_set (src, "uri", (res->local_uri + escaped (res->name)).c_str (), nullptr);
  if (!res->tls_ca_file.empty ())
    g_object_set (src, "tls-ca-file", res->tls_ca_file.c_str (), nullptr);
  // What the player takes, in its order, is what the producer may send.
  for (MediaKind kind : { MediaKind::Video, MediaKind::Audio }) {
    std::vector<const Codec *> codecs;
    for (const OfferMedia &m : res->offer.media)
      for (const CodecChoice &c : m.choices)
        if (m.kind == kind && std::find (codecs.begin (), codecs.end (), c.codec) ==
            codecs.end ())
          codecs.push_back (c.codec);
    if (!codecs.empty ())
      g_object_set (src, kind == MediaKind::Video ? "video-codecs" : "audio-codecs",
          codec_list_to_string (codecs).c_str (), nullptr);
  }
  gst_bin_add (GST_BIN (res->pipeline.get ()), src);
  connect (src, "pad-added", +[] (GstElement *, GstPad *pad, gpointer data) {
    on_egress_pad (static_cast<Box *> (data)->res, pad);
  }, res);
  connect (src, "no-more-pads", +[] (GstElement *, gpointer data) {
    on_main (static_cast<Box *> (data)->res, [] (const WhipSessionPtr &r) {
      r->no_more_pads = true;
      egress_ready (r);
    });
  }, res);
  watch_bus (res);
  if (gst_element_set_state (res->pipeline.get (), GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    error = "The sending pipeline could not start; see the server log.";
    return SOUP_STATUS_INTERNAL_SERVER_ERROR;
  }
  return 0;
}

// rtcstreamsrc's thread, inside gst_element_add_pad: links the new pad to a
// capsfilter that accepts only encoded caps the player takes, so the src
// leaves the media encoded, and holds its data until webrtcbin is ready.
void
on_egress_pad (const WhipSessionPtr &res, GstPad *pad)
{
  const MediaKind kind = g_str_has_prefix (GST_PAD_NAME (pad), "audio")
      ? MediaKind::Audio : MediaKind::Video;
  std::lock_guard<std::mutex> lk (res->lock);
  std::size_t media = res->offer.media.size ();
  for (std::size_t i = 0; i < res->offer.media.size () && media == res->offer.media.size ();
      i++) {
    const OfferMedia &m = res->offer.media[i];
    bool used = false;
    for (const WhipRoute &r : res->routes)
      used = used || r.media == i;
    if (m.kind == kind && !m.choices.empty () && !used)
      media = i;
  }
  if (media == res->offer.media.size ())
    return;  // the player did not ask for it; rtcstreamsrc drops it
  GstCaps *caps = gst_caps_new_empty ();
  for (const CodecChoice &c : res->offer.media[media].choices)
    caps = gst_caps_merge (caps, gst_caps_from_string (c.codec->encoded_caps));
  GstElement *filter = gst_element_factory_make ("capsfilter", nullptr);
  g_object_set (filter, "caps", caps, nullptr);
  gst_caps_unref (caps);
  gst_bin_add (GST_BIN (res->pipeline.get ()), filter);
  gst_element_sync_state_with_parent (filter);
  g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (filter, "sink");
  gst_pad_link (pad, sinkpad);

  WhipRoute route;
  route.media = media;
  route.head = filter;
  g_autoptr (GstPad) srcpad = gst_element_get_static_pad (filter, "src");
  route.block_probe = gst_pad_add_probe (srcpad, GST_PAD_PROBE_TYPE_BLOCK_DOWNSTREAM,
      [] (GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
        if (!(GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM))
          return GST_PAD_PROBE_OK;
        GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
        if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
          return GST_EVENT_TYPE (event) == GST_EVENT_STREAM_START ? GST_PAD_PROBE_PASS
              : GST_PAD_PROBE_OK;
        GstCaps *c = nullptr;
        gst_event_parse_caps (event, &c);
        WhipSessionPtr r = static_cast<Box *> (data)->res;
        const Codec *codec = codec_for_encoded_caps (c);
        on_main (r, [codec, id = GST_PAD_PROBE_INFO_ID (info)] (const WhipSessionPtr &rr) {
          {
            std::lock_guard<std::mutex> l (rr->lock);
            for (WhipRoute &route : rr->routes)
              if (route.block_probe == id && !route.codec)
                route.codec = codec;
          }
          egress_ready (rr);
        });
        return GST_PAD_PROBE_OK;  // stays blocked until webrtcbin is linked
      }, box (res), free_box);
  // The producer ended: so does this session.
  gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      [] (GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
        if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS)
          on_main (static_cast<Box *> (data)->res, [] (const WhipSessionPtr &r) {
            g_printerr ("WHEP session %s (%s): the stream ended\n", r->id.c_str (),
                r->name.c_str ());
            r->owner->ended (r, SOUP_STATUS_NOT_FOUND, "The stream ended.");
          });
        return GST_PAD_PROBE_OK;
      }, box (res), free_box);
  res->routes.push_back (route);
}

// Main: once rtcstreamsrc has exposed every pad and each routed pad knows
// its codec, builds payloader ! webrtcbin per m-line and negotiates.
void
egress_ready (const WhipSessionPtr &res)
{
  if (res->webrtc || !res->no_more_pads)
    return;
  std::vector<WhipRoute> routes;
  {
    std::lock_guard<std::mutex> lk (res->lock);
    routes = res->routes;
  }
  if (routes.empty ()) {
    res->owner->ended (res, SOUP_STATUS_NOT_ACCEPTABLE,
        "The stream has no media of a kind and codec your offer receives.");
    return;
  }
  for (const WhipRoute &r : routes)
    if (!r.codec)
      return;  // caps still on their way

  GstElement *webrtc = make_webrtcbin (res);
  if (!webrtc) {
    res->owner->ended (res, SOUP_STATUS_SERVICE_UNAVAILABLE, "webrtcbin is not installed.");
    return;
  }
  gst_bin_add (GST_BIN (res->pipeline.get ()), webrtc);
  res->webrtc = webrtc;
  // Transceivers in m-line order: the offer's media take them in that order.
  for (std::size_t i = 0; i < res->offer.media.size (); i++) {
    const WhipRoute *route = nullptr;
    for (const WhipRoute &r : routes)
      if (r.media == i)
        route = &r;
    const CodecChoice *choice = nullptr;
    if (route)
      for (const CodecChoice &c : res->offer.media[i].choices)
        if (!choice && c.codec == route->codec)
          choice = &c;
    if (!choice) {
      GstWebRTCRTPTransceiver *trans = nullptr;
      g_signal_emit_by_name (webrtc, "add-transceiver",
          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_INACTIVE, nullptr, &trans);
      if (trans)
        gst_object_unref (trans);
      continue;
    }
    const std::string base = "media" + std::to_string (i);
    GstElement *pay = make_payloader (*choice->codec, choice->pt, (base + "-pay").c_str ());
    if (!pay) {
      res->owner->ended (res, SOUP_STATUS_SERVICE_UNAVAILABLE, std::string ("The payloader for ") +
          choice->codec->name + " is missing.");
      return;
    }
    gst_bin_add (GST_BIN (res->pipeline.get ()), pay);
    // Named after its m-line: webrtcbin then ties the pad's transceiver to
    // that m-line. An unnamed pad is numbered by request order instead, and
    // with a rejected medium before it (audio first, to a video-only
    // stream) webrtcbin linked it to the rejected m-line's transceiver,
    // which has no transport, and aborted on an assertion.
    GstPadTemplate *templ = gst_element_get_pad_template (webrtc, "sink_%u");
    g_autoptr (GstPad) sinkpad = gst_element_request_pad (webrtc, templ,
        ("sink_" + std::to_string (i)).c_str (), nullptr);
    GstWebRTCRTPTransceiver *trans = nullptr;
    if (sinkpad)
      g_object_get (sinkpad, "transceiver", &trans, nullptr);
    if (trans) {
      g_autoptr (GstCaps) prefs = preference_caps (*choice, true);
      g_object_set (trans, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY,
          "codec-preferences", prefs, nullptr);
      gst_object_unref (trans);
    }
    g_autoptr (GstPad) paysrc = gst_element_get_static_pad (pay, "src");
    if (!sinkpad || !gst_element_link (route->head, pay) ||
        gst_pad_link (paysrc, sinkpad) != GST_PAD_LINK_OK) {
      res->owner->ended (res, SOUP_STATUS_INTERNAL_SERVER_ERROR,
          "Could not link the stream to webrtcbin.");
      return;
    }
    gst_element_sync_state_with_parent (pay);
  }
  gst_element_sync_state_with_parent (webrtc);
  for (auto &c : res->early_candidates)
    g_signal_emit_by_name (webrtc, "add-ice-candidate", c.first, c.second.c_str ());
  res->early_candidates.clear ();
  for (const WhipRoute &r : routes) {
    g_autoptr (GstPad) srcpad = gst_element_get_static_pad (r.head, "src");
    gst_pad_remove_probe (srcpad, r.block_probe);
  }
  negotiate (res);
}

// Main: set-remote-description, then create-answer and
// set-local-description, each step back on the main context.
void
negotiate (const WhipSessionPtr &res)
{
  GstSDPMessage *sdp = nullptr;
  gst_sdp_message_new_from_text (res->offer_text.c_str (), &sdp);
  GstWebRTCSessionDescription *offer =
      gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  GstPromise *promise = gst_promise_new_with_change_func ([] (GstPromise *p, gpointer data) {
    std::string error = promise_error (p);
    on_main (static_cast<Box *> (data)->res, [error] (const WhipSessionPtr &r) {
      if (!error.empty ()) {
        r->owner->ended (r, SOUP_STATUS_BAD_REQUEST, "webrtcbin refused the offer: " + error);
        return;
      }
      GstPromise *next = gst_promise_new_with_change_func (on_answer, box (r), free_box);
      g_signal_emit_by_name (r->webrtc, "create-answer", nullptr, next);
      gst_promise_unref (next);
    });
  }, box (res), free_box);
  g_signal_emit_by_name (res->webrtc, "set-remote-description", offer, promise);
  gst_promise_unref (promise);
  gst_webrtc_session_description_free (offer);
  if (!res->whep)
    for (auto &c : res->early_candidates)
      g_signal_emit_by_name (res->webrtc, "add-ice-candidate", c.first, c.second.c_str ());
  res->early_candidates.clear ();
}

std::string
promise_error (GstPromise *p)
{
  if (gst_promise_wait (p) != GST_PROMISE_RESULT_REPLIED)
    return "no reply";
  const GstStructure *reply = gst_promise_get_reply (p);
  GError *err = nullptr;
  if (reply && gst_structure_has_field (reply, "error")) {
    gst_structure_get (reply, "error", G_TYPE_ERROR, &err, nullptr);
    std::string text = err ? err->message : "unknown error";
    g_clear_error (&err);
    return text;
  }
  return {};
}

// webrtcbin's thread.
void
on_answer (GstPromise *p, gpointer data)
{
  std::string error = promise_error (p);
  GstWebRTCSessionDescription *answer = nullptr;
  if (error.empty ()) {
    const GstStructure *reply = gst_promise_get_reply (p);
    gst_structure_get (reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, nullptr);
    if (!answer)
      error = "no answer";
  }
  std::shared_ptr<GstWebRTCSessionDescription> owned (answer, [] (GstWebRTCSessionDescription *a) {
    if (a)
      gst_webrtc_session_description_free (a);
  });
  on_main (static_cast<Box *> (data)->res, [error, owned] (const WhipSessionPtr &r) {
    if (!error.empty ()) {
      r->owner->ended (r, SOUP_STATUS_NOT_ACCEPTABLE, "No answer could be made: " + error);
      return;
    }
    g_signal_emit_by_name (r->webrtc, "set-local-description", owned.get (), nullptr);
    gst_sdp_message_copy (owned->sdp, &r->answer);
    // Answer with what has been gathered by then if gathering never ends.
    g_timeout_add_full (G_PRIORITY_DEFAULT, kGatherWaitMs, [] (gpointer d) -> gboolean {
      WhipSessionPtr rr = static_cast<Box *> (d)->res;
      if (rr->alive && !rr->gathered) {
        rr->gathered = true;
        check_answer (rr);
      }
      return G_SOURCE_REMOVE;
    }, box (r), free_box);
    check_answer (r);
  });
}

}  // namespace

WhipSession::~WhipSession ()
{
  if (answer)
    gst_sdp_message_free (answer);
}

guint
whip_session_start (const WhipSessionPtr &session, std::string &error)
{
  static gsize init = 0;
  if (g_once_init_enter (&init)) {
    GST_DEBUG_CATEGORY_INIT (whip_session_debug, "rtcstream-whip-server", 0,
        "rtcstream-signalling WHIP/WHEP sessions");
    g_once_init_leave (&init, 1);
  }
  return session->whep ? start_egress (session, error) : start_ingest (session, error);
}

void
whip_session_add_candidates (const WhipSessionPtr &session,
    std::vector<std::pair<guint, std::string>> candidates)
{
  for (auto &c : candidates) {
    if (session->webrtc)
      g_signal_emit_by_name (session->webrtc, "add-ice-candidate", c.first, c.second.c_str ());
    else
      session->early_candidates.push_back (std::move (c));
  }
}

GstElement *
whip_session_release (WhipSession &session)
{
  if (session.bus_watch)
    g_source_remove (session.bus_watch);
  if (session.silence_watch)
    g_source_remove (session.silence_watch);
  session.bus_watch = session.silence_watch = 0;
  session.webrtc = nullptr;
  return session.pipeline.release ();
}

}  // namespace rtcstream::signalling
