/**
 * Where Kakao tokens are kept between refreshes, and who may refresh them: the token file (this
 * process alone) or a NATS KV bucket shared by every replica (one refresher at a time; the others
 * take on what it saved). KakaoTokens holds the policy; a store only keeps and coordinates.
 */

/** The saved tokens. They record which environment tokens they descend from, so tokens set after a fresh login win over them. */
export interface SavedTokens {
  version: 1;
  access_token: string | null;
  access_token_expires_at: string | null;
  refresh_token: string;
  refresh_token_expires_at: string | null;
  env_refresh_token_sha256: string | null;
  env_access_token_sha256: string | null;
  saved_at: string;
}

/** One refresh, as the only refresher among the processes sharing the store. */
export interface RefreshTurn {
  /** The newest saved tokens, read once the turn was given (shared store); null: the process's own are the newest. */
  readonly saved: SavedTokens | null;
  /**
   * Saves this refresh's tokens, made with the refresh token `from`; resolves with tokens saved
   * elsewhere meanwhile that supersede them (then use those), or null.
   */
  save(tokens: SavedTokens, from: string): Promise<SavedTokens | null>;
  /** Ends the turn; never throws. */
  release(): Promise<void>;
}

export interface TokenStore {
  /** The token check's `source` for tokens taken from this store. */
  readonly source: 'file' | 'bucket';
  /** The saved tokens as found at start, or null. */
  saved(): SavedTokens | null;
  /**
   * The environment's tokens, used because the saved ones do not descend from them (or there are
   * none): a shared store takes them on for every replica and resolves with tokens another replica
   * saved meanwhile that descend from them too (use those), or null; the file waits for the first refresh.
   */
  seed(tokens: SavedTokens): Promise<SavedTokens | null>;
  /** Waits for this process's turn to refresh; rejects when the store cannot be reached. */
  takeTurn(): Promise<RefreshTurn>;
  /** Calls `listener` with the tokens each time another process saves some. */
  follow(listener: (tokens: SavedTokens) => void): void;
  close(): Promise<void>;
}
