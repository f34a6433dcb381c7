/** Korean by default; English when the browser prefers it or the switch says so (remembered). */

const ko = {
  title: '이상행동 감시',
  cameras: '카메라',
  events: '이벤트',
  server: '서버',
  normal: '정상',
  silent: '응답 없음',
  noCameras: '아직 카메라가 없습니다. 에이전트가 연결되면 여기에 나타납니다.',
  allCameras: '모든 카메라',
  allEvents: '모든 이벤트',
  older: '이전 이벤트 더 보기',
  loading: '불러오는 중…',
  storeStart: '이벤트 저장소의 처음까지 보았습니다.',
  olderFailed: '이전 이벤트를 불러오지 못했습니다.',
  noEvents: '이벤트가 없습니다.',
  ready: '준비됨',
  notReady: '준비 안 됨',
  device: '장치',
  workers: '워커',
  queue: '대기열',
  perSecond: '초당 분석',
  streams: '열린 스트림',
  kakao: '카카오 알림',
  tokenValid: '토큰 유효',
  tokenInvalid: '토큰 문제',
  expires: '만료',
  undelivered: '전달 안 된 알림',
  none: '없음',
  memo: '카카오 메모',
  delivered: '전달됨',
  pending: '보내는 중',
  notDelivered: '전달 안 됨',
  noMemo: '메모 없음',
  deliveryUnknown: '전달 여부 모름',
  camera: '카메라',
  when: '시각',
  duration: '지속시간',
  score: '점수',
  videoTime: '영상 시간',
  frame: '프레임',
  started: '시작',
  back: '← 감시 화면',
  scoresAround: '전후 점수 (최고 점수)',
  unknownEvent: '이 이벤트는 메모리에 남아 있지 않습니다 (이벤트 로그에는 있습니다).',
  storedEvent: '메모리에 남아 있지 않은 이벤트입니다: 목록에서 읽은 기록만 보여 줍니다 (전후 점수 없음).',
  loginTitle: '로그인',
  loginHint: 'BACKEND_WATCH_TOKEN 값을 입력하세요.',
  token: '토큰',
  loginButton: '로그인',
  wrongToken: '토큰이 맞지 않습니다.',
  logout: '로그아웃',
  live: '실시간',
  reconnecting: '다시 연결 중…',
  ago: '전',
  for: '동안',
  lang: 'English',
};

export type Strings = typeof ko;

const en: Strings = {
  title: 'Behaviour watch',
  cameras: 'Cameras',
  events: 'Events',
  server: 'Server',
  normal: 'normal',
  silent: 'silent',
  noCameras: 'No camera yet. Cameras appear here once an agent connects.',
  allCameras: 'all cameras',
  allEvents: 'all events',
  older: 'Older events',
  loading: 'loading…',
  storeStart: 'This is the start of the event store.',
  olderFailed: 'Could not load older events.',
  noEvents: 'No events.',
  ready: 'ready',
  notReady: 'not ready',
  device: 'device',
  workers: 'workers',
  queue: 'queue',
  perSecond: 'analyses/s',
  streams: 'open streams',
  kakao: 'Kakao alerts',
  tokenValid: 'token valid',
  tokenInvalid: 'token problem',
  expires: 'expires',
  undelivered: 'undelivered alerts',
  none: 'none',
  memo: 'Kakao memo',
  delivered: 'delivered',
  pending: 'sending',
  notDelivered: 'not delivered',
  noMemo: 'no memo',
  deliveryUnknown: 'delivery unknown',
  camera: 'camera',
  when: 'when',
  duration: 'duration',
  score: 'score',
  videoTime: 'video time',
  frame: 'frame',
  started: 'started',
  back: '← watch',
  scoresAround: 'scores around it (top score)',
  unknownEvent: 'This event is no longer kept in memory (it is in the event log).',
  storedEvent: 'No longer kept in memory: shown as the list read it from the store, without the scores around it.',
  loginTitle: 'Log in',
  loginHint: 'Enter the BACKEND_WATCH_TOKEN value.',
  token: 'token',
  loginButton: 'Log in',
  wrongToken: 'Wrong token.',
  logout: 'Log out',
  live: 'live',
  reconnecting: 'reconnecting…',
  ago: 'ago',
  for: 'for',
  lang: '한국어',
};

export type Lang = 'ko' | 'en';

const STORAGE_KEY = 'watch.lang';

export function chooseLang(): Lang {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === 'ko' || saved === 'en') return saved;
  const first = (navigator.languages[0] ?? navigator.language ?? 'ko').toLowerCase();
  return first.startsWith('en') ? 'en' : 'ko';
}

export function saveLang(lang: Lang): void {
  localStorage.setItem(STORAGE_KEY, lang);
}

export function strings(lang: Lang): Strings {
  return lang === 'en' ? en : ko;
}

/** An event's name as shown: the model's label in Korean, the name made readable in English. */
export function eventLabel(lang: Lang, labels: Readonly<Record<string, string>>, event: string | null | undefined): string {
  if (!event) return '-';
  if (lang === 'ko') return labels[event] ?? event;
  return event.replace(/_/g, ' ');
}

/** 75 s → "1:15", 3725 s → "1:02:05". */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const mm = String(Math.floor((s % 3600) / 60));
  const ss = String(s % 60).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm.padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

export function dateTime(lang: Lang, ms: number): string {
  return new Date(ms).toLocaleString(lang === 'ko' ? 'ko-KR' : 'en-GB', { dateStyle: 'short', timeStyle: 'medium' });
}

export function timeOfDay(lang: Lang, ms: number): string {
  return new Date(ms).toLocaleTimeString(lang === 'ko' ? 'ko-KR' : 'en-GB', { hour12: false });
}
