//! Media categories: a tree of at most three levels per account, per product (VOD and ICE
//! keep separate trees) and per type (`default` for audio/video, `material` for materials).

/// One category. Top-level categories have `parent_id == -1` and `level == 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    pub id: i64,
    pub account_id: String,
    /// `vod` or `ice`.
    pub scope: String,
    pub name: String,
    pub parent_id: i64,
    pub level: i64,
    /// `default` or `material`.
    pub cate_type: String,
    pub created_at: i64,
}

/// The deepest level (0-based): three levels in all.
pub const MAX_CATEGORY_LEVEL: i64 = 2;

/// What `create_category` needs; the store assigns the id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCategory {
    pub account_id: String,
    pub scope: String,
    pub name: String,
    pub parent_id: i64,
    pub level: i64,
    pub cate_type: String,
    pub created_at: i64,
}
