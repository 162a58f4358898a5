// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The SDP checks of the server's WHIP/WHEP endpoints (signalling/whip-sdp.h):
// offers from the network, answers with our candidates, trickle fragments.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <string>

#include "rtcstream/signallers/whip-util.h"
#include "whip-sdp.h"

using namespace rtcstream;
using namespace rtcstream::signalling;

namespace {

const char *kCommon =
    "a=ice-ufrag:Ab12\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
    "a=fingerprint:sha-256 8B:4E:66:3B:22:1F:64:63:5A:CF:B4:B1:93:23:1C:3E:"
    "F1:56:EC:E0:9D:2B:DD:86:A3:0E:65:56:86:DA:4B:A8\r\n"
    "a=setup:actpass\r\n"
    "a=rtcp-mux\r\n";

std::string
offer (const std::string &media)
{
  return std::string ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
      "a=group:BUNDLE 0 1\r\n") + media;
}

std::string
video (const char *direction, const std::string &formats, const std::string &rtpmaps,
    const char *mid = "0")
{
  return "m=video 9 UDP/TLS/RTP/SAVPF " + formats + "\r\nc=IN IP4 0.0.0.0\r\na=mid:" + mid +
      "\r\na=" + direction + "\r\n" + kCommon + rtpmaps;
}

std::string
audio (const char *direction, const char *mid = "1")
{
  return std::string ("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:") + mid +
      "\r\na=" + direction + "\r\n" + kCommon + "a=rtpmap:111 opus/48000/2\r\n";
}

bool
have (const char *factory)
{
  GstElementFactory *f = gst_element_factory_find (factory);
  if (f)
    gst_object_unref (f);
  return f != nullptr;
}

}  // namespace

TEST (WhipSdp, ChoosesTheOffersCodecsInItsOrder)
{
  if (!have ("rtpvp8depay") || !have ("rtph264depay") || !have ("rtpopusdepay"))
    GTEST_SKIP () << "gst-plugins-good RTP elements are missing";
  Offer o;
  std::string error;
  const std::string sdp = offer (video ("sendonly", "102 100 96 97",
      "a=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=0;profile-level-id=42e01f\r\n"
      "a=rtpmap:100 AV1/90000\r\n"
      "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\n"
      "a=rtpmap:97 H264/90000\r\na=fmtp:97 packetization-mode=1;profile-level-id=42e01f\r\n")
      + audio ("sendonly"));
  ASSERT_TRUE (analyse_offer (sdp, OfferKind::Publish, o, error)) << error;
  ASSERT_EQ (o.media.size (), 2u);
  EXPECT_FALSE (o.credentials_unified);
  const OfferMedia &v = o.media[0];
  EXPECT_EQ (v.kind, MediaKind::Video);
  EXPECT_EQ (v.mid, "0");
  // Mode-0 H264 and AV1 are left out.
  ASSERT_EQ (v.choices.size (), 2u);
  EXPECT_STREQ (v.choices[0].codec->name, "VP8");
  EXPECT_EQ (v.choices[0].pt, 96u);
  EXPECT_STREQ (v.choices[1].codec->name, "H264");
  EXPECT_EQ (v.choices[1].pt, 97u);
  const GstStructure *s = gst_caps_get_structure (v.choices[0].caps, 0);
  EXPECT_TRUE (gst_structure_has_name (s, "application/x-rtp"));
  gboolean pli = FALSE;
  EXPECT_TRUE (gst_structure_get_boolean (s, "rtcp-fb-nack-pli", &pli) && pli);
  EXPECT_FALSE (gst_structure_has_field (s, "a-mid"));
  ASSERT_EQ (o.media[1].choices.size (), 1u);
  EXPECT_STREQ (o.media[1].choices[0].codec->name, "OPUS");

  // Loose preferences drop what only describes one stream.
  g_autoptr (GstCaps) loose = preference_caps (v.choices[1], true);
  EXPECT_FALSE (gst_structure_has_field (gst_caps_get_structure (loose, 0), "profile-level-id"));
  EXPECT_TRUE (gst_structure_has_field (gst_caps_get_structure (loose, 0), "packetization-mode"));
}

TEST (WhipSdp, RefusesWhatIsNotAUsableOffer)
{
  Offer o;
  std::string error;
  const std::string vp8 = "a=rtpmap:96 VP8/90000\r\n";
  EXPECT_FALSE (analyse_offer ("hello", OfferKind::Publish, o, error));
  EXPECT_FALSE (analyse_offer (std::string ("v=0\r\n\x01"), OfferKind::Publish, o, error));
  EXPECT_FALSE (analyse_offer (offer (""), OfferKind::Publish, o, error));
  EXPECT_NE (error.find ("no media"), std::string::npos) << error;
  // The wrong direction for the endpoint.
  EXPECT_FALSE (analyse_offer (offer (video ("recvonly", "96", vp8)), OfferKind::Publish, o,
      error));
  EXPECT_FALSE (analyse_offer (offer (video ("sendonly", "96", vp8)), OfferKind::Play, o, error));
  EXPECT_TRUE (analyse_offer (offer (video ("recvonly", "96", vp8)), OfferKind::Play, o, error))
      << error;
  // A data channel.
  EXPECT_FALSE (analyse_offer (offer (video ("sendonly", "96", vp8) +
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n" + kCommon), OfferKind::Publish, o,
      error));
  // No fingerprint, too many media, too many formats.
  std::string bare = video ("sendonly", "96", vp8);
  bare.erase (bare.find ("a=fingerprint"), bare.find ("a=setup") - bare.find ("a=fingerprint"));
  EXPECT_FALSE (analyse_offer (offer (bare), OfferKind::Publish, o, error));
  EXPECT_NE (error.find ("fingerprint"), std::string::npos) << error;
  std::string many;
  for (guint i = 0; i <= kMaxMediaLines; i++)
    many += video ("sendonly", "96", vp8, std::to_string (i).c_str ());
  EXPECT_FALSE (analyse_offer (offer (many), OfferKind::Publish, o, error));
  std::string formats;
  for (guint i = 0; i <= kMaxFormatsPerMedia; i++)
    formats += (i ? " " : "") + std::to_string (i % 128);
  EXPECT_FALSE (analyse_offer (offer (video ("sendonly", formats, vp8)), OfferKind::Publish, o,
      error));
}

// webrtcbin with max-bundle (rtcstreamsrc whep+, rtcstreamsink whip+)
// offers the media after the first with port 0 and a=bundle-only: live.
TEST (WhipSdp, BundleOnlyMediaIsLive)
{
  if (!have ("rtpvp8pay") || !have ("rtpopuspay"))
    GTEST_SKIP () << "gst-plugins-good RTP elements are missing";
  std::string rejected = audio ("recvonly");
  rejected.replace (rejected.find ("m=audio 9"), 9, "m=audio 0");
  const std::string bundled = rejected + "a=bundle-only\r\n";
  for (const auto &[media, choices] : {std::pair {bundled, 1u}, {rejected, 0u}}) {
    Offer o;
    std::string error;
    ASSERT_TRUE (analyse_offer (offer (video ("recvonly", "96", "a=rtpmap:96 VP8/90000\r\n") +
        media), OfferKind::Play, o, error)) << error;
    ASSERT_EQ (o.media.size (), 2u);
    EXPECT_EQ (o.media[1].choices.size (), choices) << media;
  }
}

// aiortc's BUNDLE offers give each media its own ICE credentials; webrtcbin
// gets the group with the first media's credentials everywhere.
TEST (WhipSdp, BundledMediaShareTheFirstMediasCredentials)
{
  if (!have ("rtpvp8depay") || !have ("rtpopusdepay"))
    GTEST_SKIP () << "gst-plugins-good RTP elements are missing";
  std::string a = audio ("sendonly");
  a.replace (a.find ("Ab12"), 4, "Zz99");
  Offer o;
  std::string error;
  ASSERT_TRUE (analyse_offer (offer (a + video ("sendonly", "96", "a=rtpmap:96 VP8/90000\r\n")),
      OfferKind::Publish, o, error)) << error;
  EXPECT_TRUE (o.credentials_unified);
  EXPECT_NE (o.unified_text.find ("a=group:BUNDLE"), std::string::npos) << o.unified_text;
  EXPECT_NE (o.unified_text.find ("Zz99"), std::string::npos) << o.unified_text;
  EXPECT_EQ (o.unified_text.find ("Ab12"), std::string::npos) << o.unified_text;
  // Equal credentials are left as they are.
  ASSERT_TRUE (analyse_offer (offer (audio ("sendonly") +
      video ("sendonly", "96", "a=rtpmap:96 VP8/90000\r\n")), OfferKind::Publish, o, error));
  EXPECT_FALSE (o.credentials_unified);
}

// The answer of a WHIP/WHEP session gets our candidates (the app
// signaller adds them with whip::add_candidates).
TEST (WhipSdp, AnswerGetsOurCandidates)
{
  g_autoptr (GstSDPMessage) answer = nullptr;
  const std::string text = offer (video ("recvonly", "96", "a=rtpmap:96 VP8/90000\r\n"));
  ASSERT_EQ (gst_sdp_message_new_from_text (text.c_str (), &answer), GST_SDP_OK);
  whip::add_candidates (answer, { { 0, "candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host" },
      { 7, "candidate:ignored" } }, true);
  g_autofree char *out = gst_sdp_message_as_text (answer);
  const std::string o = out;
  EXPECT_NE (o.find ("a=candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host\r\n"),
      std::string::npos) << o;
  EXPECT_NE (o.find ("a=end-of-candidates"), std::string::npos) << o;
  EXPECT_EQ (o.find ("ignored"), std::string::npos) << o;
}

TEST (WhipSdp, TrickleFragments)
{
  Offer o;
  o.media.resize (2);
  o.media[0].mline = 0;
  o.media[0].mid = "v";
  o.media[1].mline = 1;
  o.media[1].mid = "a";
  std::vector<rtcstream::whip::Candidate> out;
  std::string error;
  const std::vector<rtcstream::whip::FragMedia> media = sdpfrag_media (o);
  using rtcstream::whip::parse_sdpfrag;
  ASSERT_TRUE (parse_sdpfrag ("a=ice-ufrag:x\r\na=ice-pwd:y\r\nm=audio 9 RTP/AVP 0\r\na=mid:a\r\n"
      "a=candidate:1 1 UDP 1 10.0.0.1 9 typ host\r\na=end-of-candidates\r\n", media, out, error))
      << error;
  ASSERT_EQ (out.size (), 1u);
  EXPECT_EQ (out[0].first, 1u);
  EXPECT_EQ (out[0].second, "candidate:1 1 UDP 1 10.0.0.1 9 typ host");
  EXPECT_FALSE (parse_sdpfrag ("a=mid:nope\r\n", media, out, error));
  EXPECT_FALSE (parse_sdpfrag ("a=candidate:" + std::string (600, 'x') + "\r\n", media, out, error));
  std::string flood;
  for (int i = 0; i < 65; i++)
    flood += "a=candidate:1 1 UDP 1 10.0.0.1 9 typ host\r\n";
  EXPECT_FALSE (parse_sdpfrag (flood, media, out, error));
  EXPECT_FALSE (parse_sdpfrag (std::string ("a=candidate:\x01\r\n"), media, out, error));
}
