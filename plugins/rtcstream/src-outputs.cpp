// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstreamsrc's pads. Each audio/video media of the session gets its pad
// as soon as the offer is known, before the answer: gst-launch and
// applications link it in pad-added, and what the linked downstream takes
// (raw, or which encoded codecs) limits and orders the codecs that media is
// answered with. The chain behind the pad is built when webrtcbin's own pad
// appears with the media.
//
// The pad's internal (proxy) pad has its own chain functions: a buffer
// arrives at it from the chain's last element and goes out through the pad.
// They drop what goes to an unlinked pad, and turn downstream's EOS into
// this pad's end instead of sending it up into webrtcbin, whose one
// transport carries every media of the session.
#include "src-private.h"

#include <gst/video/video.h>

#include <algorithm>
#include <mutex>
#include <type_traits>

#include "rtcstream/abs-capture-time.h"

namespace rtcstream::src {

namespace {

bool
caps_accept (GstCaps *caps, const char *media_type)
{
  GstCaps *want = gst_caps_new_empty_simple (media_type);
  bool ok = gst_caps_can_intersect (caps, want);
  gst_caps_unref (want);
  return ok;
}

bool
contains (const std::vector<const Codec *> &list, const Codec *codec)
{
  return std::find (list.begin (), list.end (), codec) != list.end ();
}

// --- the pad's flow (streaming threads) -----------------------------------------

using FlowRef = std::shared_ptr<OutputFlow>;

GQuark
flow_quark ()
{
  static GQuark quark = g_quark_from_static_string ("rtcstreamsrc-output-flow");
  return quark;
}

OutputFlow *
flow_of (GstPad *ghost)
{
  auto *ref = static_cast<FlowRef *> (g_object_get_qdata (G_OBJECT (ghost), flow_quark ()));
  return ref->get ();
}

// Downstream's answer to a push on ghost. NOT_LINKED (unlinked meanwhile)
// drops the data. EOS ends this pad only: EOS goes out on it, as a source
// does when downstream is done, the element is told, and upstream hears OK.
GstFlowReturn
after_push (GstPad *ghost, GstFlowReturn ret)
{
  if (ret == GST_FLOW_NOT_LINKED)
    return GST_FLOW_OK;
  if (ret != GST_FLOW_EOS)
    return ret;
  if (!flow_of (ghost)->done.exchange (true)) {
    GST_INFO_OBJECT (ghost, "downstream is done (EOS): this pad ends");
    gst_pad_push_event (ghost, gst_event_new_eos ());
    if (GstElement *element = gst_pad_get_parent_element (ghost)) {
      downstream_done (RTCSTREAM_SRC (element));
      gst_object_unref (element);
    }
  }
  return GST_FLOW_OK;
}

// Whether data for ghost is dropped: its downstream is done, or there is
// none (say the audio of `rtcstreamsrc ! videoconvert ! ...`): not-linked
// would otherwise stop the whole session.
bool
drops (GstPad *ghost)
{
  return flow_of (ghost)->done || !gst_pad_is_linked (ghost);
}

// The internal pad's chain (Data: GstBuffer) and chain-list (GstBufferList)
// function; its parent is the ghost pad. Forward: the proxy pad's default.
template <typename Data, GstFlowReturn (*Forward) (GstPad *, GstObject *, Data *)>
GstFlowReturn
output_chain (GstPad *internal, GstObject *ghost, Data *data)
{
  if (drops (GST_PAD (ghost))) {
    gst_mini_object_unref (GST_MINI_OBJECT_CAST (data));
    return GST_FLOW_OK;
  }
  if constexpr (std::is_same_v<Data, GstBuffer>) {
    const GstClockTime captured = buffer_capture_time (data);
    if (GST_CLOCK_TIME_IS_VALID (captured))
      flow_of (GST_PAD (ghost))->capture_age_us.store (
          GST_CLOCK_DIFF (captured, ntp_now ()) / GST_USECOND);
  }
  return after_push (GST_PAD (ghost), Forward (internal, ghost, data));
}

// Any thread: a navigation event from downstream (a video sink's window, an
// application) goes to the producer on the "input" channel, with the frame
// size its coordinates refer to.
GstPadProbeReturn
on_upstream_event (GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
  auto *self = RTCSTREAM_SRC (user);
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) != GST_EVENT_NAVIGATION)
    return GST_PAD_PROBE_OK;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    if (!self->state->navigation)
      return GST_PAD_PROBE_OK;
  }
  int width = 0, height = 0;
  if (GstCaps *caps = gst_pad_get_current_caps (pad)) {
    if (gst_caps_get_size (caps) > 0) {
      GstStructure *cs = gst_caps_get_structure (caps, 0);
      gst_structure_get_int (cs, "width", &width);
      gst_structure_get_int (cs, "height", &height);
    }
    gst_caps_unref (caps);
  }
  std::string json = navigation_to_json (event, width, height);
  if (!json.empty ()) {
    GST_LOG_OBJECT (self, "navigation to the producer: %s", json.c_str ());
    self->state->channels->send_input (json);
  }
  return GST_PAD_PROBE_OK;
}

// Any thread: an encoded pad whose chain does not exist yet answers caps
// queries with the codec it announced (an element that waits for its
// input's codec need not wait for the first packet); otherwise, or once the
// chain exists, the ghost pad's own answer.
gboolean
output_query (GstPad *ghost, GstObject *parent, GstQuery *query)
{
  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
    const Codec *codec = flow_of (ghost)->announced.load ();
    GstPad *target = gst_ghost_pad_get_target (GST_GHOST_PAD (ghost));
    if (target)
      gst_object_unref (target);
    else if (codec) {
      GstCaps *filter = nullptr;
      gst_query_parse_caps (query, &filter);
      GstCaps *caps = gst_caps_from_string (codec->encoded_caps);
      if (filter) {
        GstCaps *both = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref (caps);
        caps = both;
      }
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
  }
  return gst_pad_query_default (ghost, parent, query);
}

// --- exposing the pads (worker) -------------------------------------------------

// What the linked downstream of a pad takes.
struct Downstream {
  bool linked = false;
  bool encoded = false;              // encoded caps, and not raw ones
  std::vector<const Codec *> takes;  // the encoded codecs of the kind it takes
};

Downstream
ask_downstream (GstPad *ghost, MediaKind kind)
{
  Downstream d;
  d.linked = gst_pad_is_linked (ghost);
  if (!d.linked)
    return d;
  GstCaps *peer = gst_pad_peer_query_caps (ghost, nullptr);
  for (const Codec &c : all_codecs ())
    if (c.kind == kind && caps_accept (peer, c.encoded_caps))
      d.takes.push_back (&c);
  d.encoded = !d.takes.empty () && !caps_accept (peer, raw_caps_name (kind));
  GST_DEBUG_OBJECT (ghost, "downstream takes %" GST_PTR_FORMAT, peer);
  gst_caps_unref (peer);
  return d;
}

// The codecs of an output, in the order of `allowed` (video-codecs or
// audio-codecs): those downstream takes (encoded) or that can be decoded
// (raw), and that the producer offers.
std::vector<const Codec *>
output_codecs (const std::vector<const Codec *> &allowed, const Downstream &d,
    const std::vector<const Codec *> *offered)
{
  std::vector<const Codec *> out;
  for (const Codec *c : allowed) {
    bool usable = d.encoded ? contains (d.takes, c) && can_depayload (*c) : can_decode (*c);
    if (usable && (!offered || contains (*offered, c)))
      out.push_back (c);
  }
  return out;
}

// Why an output gets no codec, as a sentence naming both sides' codecs.
std::string
no_codec_error (const std::string &pad, MediaKind kind, const Downstream &d,
    const std::vector<const Codec *> &allowed, const std::vector<const Codec *> *offered,
    const CommonSettings &s)
{
  const char *kind_name = media_kind_name (kind);
  const char *property = kind == MediaKind::Video ? "video-codecs" : "audio-codecs";
  if (!d.encoded) {
    if (!offered)
      return std::string ("None of the codecs in ") + property + " (" +
          codec_list_to_string (allowed) + ") can be decoded here: install "
          "gstreamer1.0-plugins-good, -bad and gstreamer1.0-libav";
    return "Negotiation with the producer failed: no codec in common: it offers " +
        codec_list_to_string (*offered) + " for " + kind_name + ". This element accepts " +
        codec_list_to_string (s.video_codecs) + "," + codec_list_to_string (s.audio_codecs) +
        " (video-codecs, audio-codecs): the producer must offer one of them";
  }
  // What would make it work: this element allowing a codec downstream takes
  // and the producer offers, or else the producer offering one.
  std::vector<const Codec *> would_do;
  for (const Codec *c : d.takes)
    if (!offered || contains (*offered, c))
      would_do.push_back (c);
  std::string msg = "Negotiation with the producer failed: downstream of " + pad + " takes " +
      kind_name + " encoded as " + codec_list_to_string (d.takes) + " only (no raw " +
      kind_name + "), " + property + " allows " + codec_list_to_string (allowed);
  if (offered)
    msg += " and the producer offers " + codec_list_to_string (*offered);
  msg += ": no codec in common. ";
  if (!would_do.empty ())
    msg += "Add " + codec_list_to_string (would_do) + " to this element's " + property;
  else
    msg += "Publish " + codec_list_to_string (d.takes) + " (the producer's " + property + ")";
  return msg + ", or give " + pad + " raw " + kind_name + " (link it to " +
      (kind == MediaKind::Video ? "videoconvert" : "audioconvert") + ")";
}

}  // namespace

std::string
expose_outputs (RtcstreamSrc *self, const std::vector<MediaSlot> &media)
{
  State *st = self->state;
  CommonSettings settings = st->copy_settings ();
  guint count[2] = {0, 0};
  std::string error;
  for (const MediaSlot &m : media) {
    const bool video = m.kind == MediaKind::Video;
    std::string name = std::string (video ? "video_" : "audio_") +
        std::to_string (count[video ? 0 : 1]++);
    GstPadTemplate *templ = gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (self),
        video ? "video_%u" : "audio_%u");
    Output out;
    out.mline = m.mline;
    out.kind = m.kind;
    out.flow = std::make_shared<OutputFlow> ();
    out.ghost = gst_ghost_pad_new_no_target_from_template (name.c_str (), templ);
    g_object_set_qdata_full (G_OBJECT (out.ghost), flow_quark (), new FlowRef (out.flow),
        [] (gpointer data) { delete static_cast<FlowRef *> (data); });
    GstPad *internal = GST_PAD (gst_proxy_pad_get_internal (GST_PROXY_PAD (out.ghost)));
    gst_pad_set_chain_function (internal,
        (output_chain<GstBuffer, gst_proxy_pad_chain_default>));
    gst_pad_set_chain_list_function (internal,
        (output_chain<GstBufferList, gst_proxy_pad_chain_list_default>));
    gst_object_unref (internal);
    gst_pad_set_query_function (out.ghost, output_query);
    if (video)
      gst_pad_add_probe (out.ghost, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_upstream_event, self,
          nullptr);
    gst_pad_set_active (out.ghost, TRUE);
    // gst-launch and applications link in pad-added, inside this call.
    gst_element_add_pad (GST_ELEMENT (self), out.ghost);

    const auto &allowed = video ? settings.video_codecs : settings.audio_codecs;
    Downstream d = ask_downstream (out.ghost, m.kind);
    out.encoded = d.encoded;
    out.codecs = output_codecs (allowed, d, m.offered);
    if (out.encoded && out.codecs.size () == 1)
      out.flow->announced = out.codecs.front ();  // the only one it can be answered with
    GST_INFO_OBJECT (self, "exposed %s (m-line %u), %s, downstream takes %s: %s", name.c_str (),
        m.mline, d.linked ? "linked" : "not linked", d.encoded ? "encoded" : "decoded",
        codec_list_to_string (out.codecs).c_str ());
    if (out.codecs.empty () && error.empty ())
      error = no_codec_error (name, m.kind, d, allowed, m.offered, settings);
    std::lock_guard<std::mutex> lk (st->lock);
    st->outputs.push_back (out);
  }
  if (!media.empty ())
    gst_element_no_more_pads (GST_ELEMENT (self));
  return error;
}

GstCaps *
output_preferences (RtcstreamSrc *self, guint mline, bool with_pt)
{
  std::vector<const Codec *> codecs;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    auto it = std::find_if (self->state->outputs.begin (), self->state->outputs.end (),
        [mline] (const Output &o) { return o.mline == mline; });
    if (it == self->state->outputs.end ())
      return nullptr;
    codecs = it->codecs;
  }
  GstCaps *caps = gst_caps_new_empty ();
  for (const Codec *c : codecs)
    gst_caps_append (caps, with_pt ? rtp_caps (*c, c->default_pt, true) : rtp_match_caps (*c));
  return caps;
}

// --- the chain behind a pad (webrtcbin's streaming thread) -------------------------

namespace {

guint
mline_of (GstPad *webrtc_pad)
{
  guint mline = G_MAXUINT;
  GstWebRTCRTPTransceiver *trans = nullptr;
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (webrtc_pad), "transceiver"))
    g_object_get (webrtc_pad, "transceiver", &trans, nullptr);
  if (trans) {
    g_object_get (trans, "mlineindex", &mline, nullptr);
    gst_object_unref (trans);
  }
  return mline;
}

GstPadProbeReturn
drop_data (GstPad *, GstPadProbeInfo *, gpointer)
{
  return GST_PAD_PROBE_DROP;
}

constexpr auto kDataProbe =
    (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST);

std::vector<GstElement *>
make_chain (const Output &out, const Codec &codec, const std::string &base)
{
  std::vector<GstElement *> chain;
  chain.push_back (make_depayloader (codec, (base + "-depay").c_str ()));
  if (out.encoded) {
    if (codec.parser)
      chain.push_back (make_parser (codec, (base + "-parse").c_str ()));
    return chain;
  }
  if (std::string (codec.name) == "H264")
    chain.push_back (make_parser (codec, (base + "-parse").c_str ()));
  chain.push_back (make_decoder (codec, (base + "-dec").c_str ()));
  if (codec.kind == MediaKind::Audio)
    chain.push_back (gst_element_factory_make ("audioconvert", (base + "-convert").c_str ()));
  return chain;
}

}  // namespace

void
on_webrtc_pad (GstElement *, GstPad *pad, gpointer user)
{
  auto *self = RTCSTREAM_SRC (user);
  State *st = self->state;
  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  GstCaps *caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  const Codec *codec = codec_for_rtp_caps (caps);
  guint ssrc = 0;
  if (caps && gst_caps_get_size (caps) > 0)
    gst_structure_get_uint (gst_caps_get_structure (caps, 0), "ssrc", &ssrc);
  const guint mline = mline_of (pad);
  GST_INFO_OBJECT (self, "media of m-line %u on %s: %" GST_PTR_FORMAT, mline,
      GST_PAD_NAME (pad), caps);
  gst_caps_unref (caps);

  Output out;
  bool found = false;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    for (const Output &o : st->outputs)
      if (o.mline == mline && o.chain.empty ()) {
        out = o;
        found = true;
      }
  }
  // Dropped here: an unlinked webrtcbin pad would stop the session with
  // not-linked.
  if (!found) {
    // A second stream on a media that has its pad (a new SSRC), or a media
    // that got no pad.
    GST_WARNING_OBJECT (self, "no pad for %s (m-line %u): dropping its data",
        GST_PAD_NAME (pad), mline);
    gst_pad_add_probe (pad, kDataProbe, drop_data, nullptr, nullptr);
    return;
  }
  g_autofree gchar *name = gst_pad_get_name (out.ghost);
  if (!codec || !contains (out.codecs, codec)) {
    GST_ELEMENT_WARNING (self, STREAM, CODEC_NOT_FOUND,
        ("The producer sends %s in %s, which was not negotiated for it; ignoring that stream",
            name, codec ? codec->name : "a codec rtcstreamsrc does not know"),
        ("pad %s", GST_PAD_NAME (pad)));
    gst_pad_add_probe (pad, kDataProbe, drop_data, nullptr, nullptr);
    return;
  }

  std::vector<GstElement *> chain = make_chain (out, *codec, name);
  if (std::find (chain.begin (), chain.end (), nullptr) != chain.end ()) {
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
        ("Cannot %s %s: its GStreamer plugin is missing (install gstreamer1.0-plugins-good, "
         "-bad and gstreamer1.0-libav)", out.encoded ? "depayload" : "decode", codec->name),
        (nullptr));
    for (GstElement *e : chain)
      if (e)
        gst_object_unref (gst_object_ref_sink (e));
    gst_pad_add_probe (pad, kDataProbe, drop_data, nullptr, nullptr);
    return;
  }
  for (GstElement *e : chain)
    gst_bin_add (GST_BIN (self), e);
  for (size_t i = 0; i + 1 < chain.size (); i++)
    gst_element_link (chain[i], chain[i + 1]);
  GstPad *last_src = gst_element_get_static_pad (chain.back (), "src");
  gst_ghost_pad_set_target (GST_GHOST_PAD (out.ghost), last_src);
  gst_object_unref (last_src);
  for (auto it = chain.rbegin (); it != chain.rend (); ++it)
    gst_element_sync_state_with_parent (*it);

  // Keyframe requests from downstream go to webrtcbin, which sends a PLI or a FIR.
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
      [] (GstPad *p, GstPadProbeInfo *info, gpointer) -> GstPadProbeReturn {
        if (gst_video_event_is_force_key_unit (GST_PAD_PROBE_INFO_EVENT (info)))
          GST_DEBUG_OBJECT (p, "keyframe request goes to the producer");
        return GST_PAD_PROBE_OK;
      }, nullptr, nullptr);
  GstPad *depay_sink = gst_element_get_static_pad (chain.front (), "sink");
  // Once downstream is done, nothing is depayloaded or decoded any more.
  gst_pad_add_probe (depay_sink, kDataProbe,
      [] (GstPad *, GstPadProbeInfo *, gpointer flow) -> GstPadProbeReturn {
        return static_cast<FlowRef *> (flow)->get ()->done ? GST_PAD_PROBE_DROP
                                                           : GST_PAD_PROBE_OK;
      }, new FlowRef (out.flow), [] (gpointer flow) { delete static_cast<FlowRef *> (flow); });
  // Video can only be decoded from a keyframe. A producer sends one when a
  // session starts, but one that relays (an SFU, a WHEP server) may be mid-
  // stream: ask for one (webrtcbin turns it into a PLI) with the first packet.
  if (codec->kind == MediaKind::Video)
    gst_pad_add_probe (depay_sink, GST_PAD_PROBE_TYPE_BUFFER,
        [] (GstPad *sinkpad, GstPadProbeInfo *, gpointer) -> GstPadProbeReturn {
          gst_pad_push_event (sinkpad,
              gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE, 0));
          return GST_PAD_PROBE_REMOVE;
        }, nullptr, nullptr);
  {
    std::lock_guard<std::mutex> lk (st->lock);
    for (Output &o : st->outputs)
      if (o.ghost == out.ghost) {
        o.chain = chain;
        o.codec = codec;
        o.ssrc = ssrc;
      }
  }
  if (gst_pad_link (pad, depay_sink) != GST_PAD_LINK_OK)
    GST_ELEMENT_WARNING (self, CORE, NEGOTIATION, ("Could not link the %s stream", codec->name),
        (nullptr));
  gst_object_unref (depay_sink);
  GST_INFO_OBJECT (self, "%s: %s, %s", name, codec->name, out.encoded ? "encoded" : "decoded");
}

// --- the end of each pad (worker) ------------------------------------------------

namespace {

// A pad that never carried media ends with a stream of its own: stream-start
// and EOS.
void
end_empty_output (const Output &o)
{
  o.flow->done = true;
  GstElement *element = gst_pad_get_parent_element (o.ghost);
  g_autofree gchar *id = gst_pad_create_stream_id (o.ghost, element, GST_PAD_NAME (o.ghost));
  if (element)
    gst_object_unref (element);
  gst_pad_push_event (o.ghost, gst_event_new_stream_start (id));
  gst_pad_push_event (o.ghost, gst_event_new_eos ());
}

std::vector<Output>
copy_outputs (State *st)
{
  std::lock_guard<std::mutex> lk (st->lock);
  return st->outputs;
}

}  // namespace

void
finish_outputs (RtcstreamSrc *self)
{
  for (const Output &o : copy_outputs (self->state)) {
    if (o.chain.empty ()) {
      end_empty_output (o);
      continue;
    }
    GstPad *sink = gst_element_get_static_pad (o.chain.front (), "sink");
    gst_pad_send_event (sink, gst_event_new_eos ());
    gst_object_unref (sink);
  }
}

void
finish_unsent_outputs (RtcstreamSrc *self, const GstWebRTCSessionDescription *answer)
{
  for (const Output &o : copy_outputs (self->state)) {
    if (sdp_answer_sends (answer, o.mline) || !o.chain.empty ())
      continue;
    g_autofree gchar *name = gst_pad_get_name (o.ghost);
    GST_INFO_OBJECT (self, "%s: the answer sends nothing on m-line %u: EOS", name, o.mline);
    if (o.encoded && gst_pad_is_linked (o.ghost))
      GST_ELEMENT_WARNING (self, STREAM, CODEC_NOT_FOUND,
          ("The endpoint sends no %s in %s (what downstream of %s takes): that pad ends at once",
              media_kind_name (o.kind), codec_list_to_string (o.codecs).c_str (), name),
          (nullptr));
    end_empty_output (o);
  }
}

void
announce_output_codecs (RtcstreamSrc *self, const GstWebRTCSessionDescription *answer)
{
  for (const Output &o : copy_outputs (self->state)) {
    if (!o.encoded || !o.chain.empty () || !answer)
      continue;
    const Codec *codec = codec_by_name (sdp_media_codec (answer->sdp, o.mline, nullptr));
    if (!codec || !contains (o.codecs, codec))
      continue;
    o.flow->announced = codec;
    GST_DEBUG_OBJECT (o.ghost, "announces %s", codec->name);
    // Out of band: it may wait at a blocking probe downstream (the server's
    // WHEP routes hold their data until its rtcstreamsink runs).
    gst_pad_push_event (o.ghost, codec_known_event ());
  }
}

bool
media_ssrc (RtcstreamSrc *self, guint ssrc)
{
  std::lock_guard<std::mutex> lk (self->state->lock);
  return ssrc != 0 && std::any_of (self->state->outputs.begin (), self->state->outputs.end (),
      [ssrc] (const Output &o) { return o.ssrc == ssrc; });
}

bool
any_media (RtcstreamSrc *self)
{
  std::lock_guard<std::mutex> lk (self->state->lock);
  return std::any_of (self->state->outputs.begin (), self->state->outputs.end (),
      [] (const Output &o) { return !o.chain.empty (); });
}

bool
linked_outputs_done (RtcstreamSrc *self)
{
  bool any = false;
  if (!data_outputs_done (self, any))
    return false;
  for (const Output &o : copy_outputs (self->state)) {
    if (!gst_pad_is_linked (o.ghost))
      continue;
    if (!o.flow->done)
      return false;
    any = true;
  }
  return any;
}

void
remove_outputs (RtcstreamSrc *self)
{
  std::vector<Output> outputs;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    outputs.swap (self->state->outputs);
  }
  for (Output &o : outputs) {
    gst_element_remove_pad (GST_ELEMENT (self), o.ghost);
    for (GstElement *e : o.chain) {
      gst_element_set_state (e, GST_STATE_NULL);
      gst_bin_remove (GST_BIN (self), e);
    }
  }
}

}  // namespace rtcstream::src
