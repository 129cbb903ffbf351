//! The products the gateway speaks (chosen by Version) and per-action facts: default QPS
//! limits (seed pages and protocol.md §4.4) and the RAM action name.

/// A product on the gateway, selected by the `Version` parameter / `x-acs-version` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Product {
    Vod,
    Ice,
}

impl Product {
    pub fn from_version(version: &str) -> Option<Self> {
        match version {
            "2017-03-21" => Some(Self::Vod),
            "2020-11-09" => Some(Self::Ice),
            _ => None,
        }
    }

    /// The RAM namespace (`vod:` / `ice:`) and the product name in error `Recommend` links.
    pub fn ram_prefix(self) -> &'static str {
        match self {
            Self::Vod => "vod",
            Self::Ice => "ice",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Self::Vod => "2017-03-21",
            Self::Ice => "2020-11-09",
        }
    }
}

/// Default per-account QPS for an action. The seed pages fix RefreshUploadVideo (120),
/// GetURLUploadInfos (100) and RefreshMediaPlayUrls (50); the rest follow Alibaba's QPS page.
pub fn default_qps(product: Product, action: &str) -> u32 {
    match (product, action) {
        (Product::Vod, "CreateUploadVideo" | "RefreshUploadVideo") => 120,
        (Product::Vod, "CreateUploadImage" | "CreateUploadAttachedMedia") => 100,
        (Product::Vod, "GetURLUploadInfos" | "GetUploadDetails" | "UploadStreamByURL") => 100,
        (Product::Vod, "RegisterMedia" | "CancelUrlUploadJobs" | "SearchMedia" | "GetCategories") => 50,
        (Product::Vod, "DeleteMultipartUpload" | "DeleteCategory") => 10,
        (Product::Vod, "GetPlayInfo" | "GetVideoPlayAuth") => 360,
        (Product::Vod, "GetVideoInfo" | "GetVideoInfos" | "GetVideoList" | "UpdateCategory") => 100,
        (Product::Vod, "DeleteVideo" | "UpdateVideoInfos" | "AddCategory") => 30,
        (Product::Vod, "RefreshMediaPlayUrls" | "GetMediaRefreshJobs") => 50,
        // The AddTranscodeTemplateGroup page says 5; the other template-group actions state
        // no limit and keep the default.
        (Product::Vod, "AddTranscodeTemplateGroup") => 5,
        _ => 100,
    }
}

/// The RAM action name, e.g. `vod:RefreshMediaPlayUrls`.
pub fn ram_action(product: Product, action: &str) -> String {
    format!("{}:{action}", product.ram_prefix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_limits() {
        assert_eq!(default_qps(Product::Vod, "RefreshUploadVideo"), 120);
        assert_eq!(default_qps(Product::Vod, "GetURLUploadInfos"), 100);
        assert_eq!(default_qps(Product::Vod, "RefreshMediaPlayUrls"), 50);
        assert_eq!(default_qps(Product::Vod, "AddTranscodeTemplateGroup"), 5);
        assert_eq!(Product::from_version("2020-11-09"), Some(Product::Ice));
        assert_eq!(Product::from_version("2017-03-22"), None);
        assert_eq!(ram_action(Product::Ice, "RefreshUploadMedia"), "ice:RefreshUploadMedia");
    }
}
